// Package benchtree generates the deterministic file trees and measures the
// peak heap used by the module's benchmarks. It is test support only.
package benchtree
