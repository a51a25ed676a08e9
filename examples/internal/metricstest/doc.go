// Package metricstest reads Prometheus series in tests, from a registry
// (prometheus.Gatherer) or from a scraped /metrics text exposition, so that
// tests can assert the series a controller exports for an object.
package metricstest
