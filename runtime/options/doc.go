// Package options holds the command-line options every controller binary
// needs and builds a controller-runtime manager from them.
//
//	func main() {
//		opts := options.DefaultOptions("source-controller")
//		opts.BindFlags(flag.CommandLine)
//		flag.Parse()
//		if err := opts.Validate(); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(2)
//		}
//		log, _ := opts.Logger()
//		ctrl.SetLogger(log) // the binary's choice: this package sets no globals
//
//		mgr, err := opts.NewManager(ctrl.GetConfigOrDie(), scheme)
//		...
//		if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil { ... }
//	}
//
// The flags:
//
//	--enable-leader-election              run as one of several replicas, one active
//	--leader-election-id                  the Lease's name (default <name>-leader-election)
//	--leader-election-namespace           the Lease's namespace (default: the pod's)
//	--leader-election-lease-duration      35s
//	--leader-election-renew-deadline      30s
//	--leader-election-retry-period        5s
//	--concurrent                          reconciles in parallel per controller (4)
//	--kube-api-qps, --kube-api-burst      client-side rate limit to the API server (50, 300)
//	--watch-namespaces                    comma-separated namespaces to watch (default: all)
//	--watch-label-selector                only cache objects matching this selector (sharding)
//	--metrics-addr                        :8080, "0" disables
//	--health-addr                         :9440, "0" disables
//	--pprof-addr                          net/http/pprof endpoints; "0" (default) disables
//	--log-level                           error, info, debug or trace
//	--log-format                          json or text
//
// Sharding: run one controller per shard, each with
// --watch-label-selector=sharding.gitopskit.dev/key=shard1 (and the
// unlabelled remainder with "!sharding.gitopskit.dev/key"), and label the
// objects to spread them. The selector restricts the cache for every kind:
// objects a controller reads but does not own (Secrets, ConfigMaps) must
// carry the label too, be read with mgr.GetAPIReader(), or be exempted with
// cache.Options.ByObject through an extra option of NewManager.
package options
