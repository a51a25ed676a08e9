package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gitopskit/kit/examples/internal/gitopsd"
)

// stopTimeout bounds gitopsd's graceful shutdown before it is killed.
const stopTimeout = 20 * time.Second

// startGitopsd runs gitopsd against the control plane: the binary when
// Options.GitopsdBinary is set, else in process. Its log goes to
// d.logPath. The cleanup stops it.
func (d *demo) startGitopsd(ctx context.Context) (func() error, error) {
	t0 := time.Now()
	logf, err := os.Create(d.logPath)
	if err != nil {
		return nil, err
	}
	storage := filepath.Join(d.tmp, "storage")
	var stop func() error
	var how string
	if d.opts.GitopsdBinary != "" {
		how = "binary " + d.opts.GitopsdBinary
		stop, err = d.startBinary(ctx, logf, storage)
	} else {
		how = "in process"
		stop, err = d.startInProcess(ctx, logf, storage)
	}
	cleanup := func() error {
		var err error
		if stop != nil {
			err = stop()
		}
		return errors.Join(err, logf.Close())
	}
	if err != nil {
		return cleanup, err
	}
	d.printf("✓ gitopsd (%s) running and ready in %s; artifacts stored in %s\n", how, since(t0), storage)
	return cleanup, nil
}

func (d *demo) startInProcess(ctx context.Context, logf *os.File, storage string) (func() error, error) {
	opts := gitopsd.DefaultOptions()
	opts.StoragePath = storage
	opts.StorageAddr = "127.0.0.1:0"
	opts.ReceiverAddr = "127.0.0.1:0"
	opts.ImageUpdateBatchWindow = d.opts.ImageBatchWindow
	opts.Controller.MetricsAddr = "0"
	opts.Controller.HealthAddr = "0"
	opts.Controller.LogFormat = "text"
	opts.Controller.LogOutput = logf
	op, err := gitopsd.New(d.env.Config(), opts)
	if err != nil {
		return nil, err
	}
	d.receiverAddr = op.ReceiverAddr().String()
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- op.Start(runCtx) }()
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(stopTimeout):
			return fmt.Errorf("gitopsd did not stop within %s", stopTimeout)
		}
	}
	select {
	case <-op.Manager().Elected():
	case err := <-done:
		done <- err
		return stop, fmt.Errorf("gitopsd stopped: %w", err)
	case <-ctx.Done():
		return stop, ctx.Err()
	}
	if !op.Manager().GetCache().WaitForCacheSync(ctx) {
		return stop, errors.New("gitopsd's caches did not sync")
	}
	return stop, nil
}

func (d *demo) startBinary(ctx context.Context, logf *os.File, storage string) (func() error, error) {
	kubeconfig := filepath.Join(d.tmp, "kubeconfig")
	if err := os.WriteFile(kubeconfig, d.env.KubeConfig(), 0o600); err != nil {
		return nil, err
	}
	healthAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	if d.receiverAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	cmd := exec.Command(d.opts.GitopsdBinary,
		"--kubeconfig="+kubeconfig,
		"--storage-path="+storage,
		"--storage-addr=127.0.0.1:0",
		"--receiver-addr="+d.receiverAddr,
		"--image-update-batch-window="+d.opts.ImageBatchWindow.String(),
		"--metrics-addr=0",
		"--health-addr="+healthAddr,
		"--log-format=text",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	var stopErr error
	stop := func() error {
		if stopped {
			return stopErr
		}
		stopped = true
		select {
		case err := <-exited: // already gone (Ctrl-C reaches the whole process group)
			stopErr = exitErr(err)
			return stopErr
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			stopErr = exitErr(err)
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-exited
			stopErr = fmt.Errorf("gitopsd did not stop within %s and was killed", stopTimeout)
		}
		return stopErr
	}

	// Ready once /readyz answers 200: caches synced, artifact server up.
	readyz := "http://" + healthAddr + "/readyz"
	deadline := time.NewTimer(d.opts.StepTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			exited <- err
			return stop, fmt.Errorf("gitopsd exited before it was ready: %v", exitErr(err))
		case <-ctx.Done():
			return stop, ctx.Err()
		case <-deadline.C:
			return stop, fmt.Errorf("gitopsd not ready after %s", d.opts.StepTimeout)
		case <-tick.C:
			if resp, err := http.Get(readyz); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return stop, nil
				}
			}
		}
	}
}

// exitErr turns a clean exit into nil and anything else into an error
// saying how gitopsd ended.
func exitErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("gitopsd: %w", err)
}

// freeAddr returns a loopback address with a port free at the time.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
