package kustomize

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Some hostile tests run in a child process (this test binary, started
// again): to measure the peak memory of a build (the kernel's high-water
// mark of the child, never a timing), to put a fake git program on PATH,
// and to give kustomize a $TMPDIR of its own.

// childEnv names the scenario a child process runs; TestMain dispatches.
const childEnv = "GITOPSKIT_KUSTOMIZE_CHILD"

// childMemCeiling is where the child's watchdog stops it: far above what
// any scenario needs, far below what an unbounded expansion reaches.
const childMemCeiling = 1 << 30

// childScenarios are run by runChild; each reports failures by returning
// an error, and may read its inputs from the environment.
var childScenarios = map[string]func() error{}

func runChild(name string) int {
	f, ok := childScenarios[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown child scenario %q\n", name)
		return 2
	}
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapSys > childMemCeiling {
				fmt.Fprintf(os.Stderr, "watchdog: heap reached %d MiB\n", ms.HeapSys>>20)
				os.Exit(3)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	if err := f(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// runInChild runs scenario in a child process with extra environment and
// returns its output and its peak resident set size in bytes. It fails the
// test if the child fails.
func runInChild(t *testing.T, scenario string, env ...string) (string, int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+scenario), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", scenario, err, out)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatal("no rusage for the child")
	}
	return string(out), ru.Maxrss * 1024 // Linux reports kilobytes
}

// childErrorf collects a scenario's failures.
type childErrors []string

func (c *childErrors) add(format string, args ...any) { *c = append(*c, fmt.Sprintf(format, args...)) }

func (c childErrors) err() error {
	if len(c) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(c, "\n"))
}
