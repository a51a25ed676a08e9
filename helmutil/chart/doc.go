// Package chart loads, builds and packages Helm charts for a source
// controller: from a package (.tgz) or from a directory inside an artifact,
// with every archive and directory treated as hostile and bounded; with the
// dependencies Chart.yaml declares built from file:// paths inside the
// source root or fetched through helmutil/repo; with values files merged
// into the chart's defaults; and packaged into a .tgz whose bytes (and so
// digest) depend only on the chart's content.
//
// Charts are Helm v4's chart/v2 type (apiVersion v1 and v2), loaded by
// Helm's own loader once this package has read and checked the files, so a
// chart means here what it means to Helm.
package chart
