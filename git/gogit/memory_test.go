package gogit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
)

// childEnv names the variable that makes this test binary run one
// operation as a child process (see TestMain) and report its peak memory.
const childEnv = "GITOPSKIT_GIT_MEMORY_CHILD"

// childJob is what the parent asks the child to do.
type childJob struct {
	Op   string             `json:"op"` // "clone", "export", or "exec" (a program)
	URL  string             `json:"url"`
	Opts gogit.CloneOptions `json:"opts"`
	Dir  string             `json:"dir"`
	Args []string           `json:"args"` // exec: the program and its arguments
	Env  []string           `json:"env"`  // exec: added to the environment
}

// childReport is what the child answers: the error text, whether it was
// a limit error and which, its peak resident memory and the CPU time it
// used (user and system, its own children's included).
type childReport struct {
	Err   string `json:"err"`
	Limit string `json:"limit"`
	HWMKB int64  `json:"hwm_kb"`
	CPUNS int64  `json:"cpu_ns"`
}

// childProfileEnv, when set in the parent's environment, names a file
// each child writes its CPU profile to (the name's "%d" replaced by the
// child's process id): how BenchmarkGit's clones are profiled.
const childProfileEnv = "GITOPSKIT_GIT_CHILD_CPUPROFILE"

func TestMain(m *testing.M) {
	if job := os.Getenv(childEnv); job != "" {
		os.Exit(runChild(job))
	}
	os.Exit(m.Run())
}

// runChild runs one job and prints its report.
func runChild(spec string) int {
	var job childJob
	if err := json.Unmarshal([]byte(spec), &job); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if job.Op == "exec" {
		return runProgram(job)
	}
	cache, err := gogit.NewCache(filepath.Join(job.Dir, "cache"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	c, err := gogit.New(job.URL, gogit.WithCache(cache))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	run := c.Clone
	if job.Op == "export" {
		run = c.Export
	}
	if name := os.Getenv(childProfileEnv); name != "" {
		f, err := os.Create(strings.ReplaceAll(name, "%d", strconv.Itoa(os.Getpid())))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	_, err = run(context.Background(), filepath.Join(job.Dir, "out"), job.Opts)
	var rep childReport
	if err != nil {
		rep.Err = err.Error()
		var l *git.LimitError
		if errors.As(err, &l) {
			rep.Limit = l.Limit
		}
	}
	rep.HWMKB = peakRSS()
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		rep.CPUNS = ru.Utime.Nano() + ru.Stime.Nano()
	}
	out, _ := json.Marshal(rep)
	fmt.Println(string(out))
	return 0
}

// runProgram runs job's program (the git CLI) and reports the peak
// resident set of its largest process (ru_maxrss, which also counts what
// this small launcher held when it started the program).
func runProgram(job childJob) int {
	cmd := exec.Command(job.Args[0], job.Args[1:]...)
	cmd.Dir = job.Dir
	cmd.Env = append(os.Environ(), job.Env...)
	out, err := cmd.CombinedOutput()
	var rep childReport
	if err != nil {
		rep.Err = fmt.Sprintf("%v: %s", err, out)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rep.HWMKB = ru.Maxrss
		// The program's own and its waited-for children's (git-remote-http,
		// index-pack).
		rep.CPUNS = ru.Utime.Nano() + ru.Stime.Nano()
	}
	data, _ := json.Marshal(rep)
	fmt.Println(string(data))
	return 0
}

// peakRSS returns the process's peak resident set (VmHWM), in KiB.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return -1
}

// inChild runs job in a child process and returns its report.
func inChild(t *testing.T, job childJob) childReport {
	t.Helper()
	job.Dir = t.TempDir()
	spec, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
	var rep childReport
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("child report %q: %v", stdout.String(), err)
	}
	if entries := entriesOf(t, filepath.Join(job.Dir, "out")); len(entries) != 0 {
		t.Errorf("the child's failed %s left %d entries", job.Op, len(entries))
	}
	return rep
}

// zeroBlobRepo serves a repository whose one file is size bytes of zeros,
// made by git itself (hash-object streams it into a pack of about 1 MB per
// GiB).
func zeroBlobRepo(t *testing.T, size int64) *gittest.Server {
	t.Helper()
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("zeros.git")
	f := filepath.Join(t.TempDir(), "zeros")
	fh, err := os.Create(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := fh.Truncate(size); err != nil { // a sparse file: no disk used
		t.Fatal(err)
	}
	fh.Close()
	gitDir := "--git-dir=" + repo.Dir()
	blob := gitCLI(t, ".", gitDir, "hash-object", "-w", f)
	tree := gitCLIStdin(t, "100644 blob "+blob+"\tzeros.bin\n", gitDir, "mktree")
	commit := gitCLI(t, ".", gitDir, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit-tree", tree, "-m", "zeros")
	gitCLI(t, ".", gitDir, "update-ref", "refs/heads/main", commit)
	return srv
}

func gitCLIStdin(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestPeakMemory measures, in a child process, the peak memory of Clone
// and Export against the bombs the limits exist for: each is refused with
// its typed error, and the process never grows past a bound far below
// what the bomb would take (a 1 GiB object alone would need over 1 GiB).
func TestPeakMemory(t *testing.T) {
	t.Parallel()
	boundMB := int64(128)
	if raceEnabled {
		boundMB = 480
	}
	zeros := zeroBlobRepo(t, 1<<30)
	up := gittest.NewServer(t)
	up.InitRepository("app.git").Commit("main", "x", map[string]string{"a": "b"})
	bombSrv := gittest.NewServer(t)
	raw := newRawRepo(t, bombSrv.InitRepository("bomb.git"))
	raw.commit("main", raw.bomb(10, 6))
	cases := []struct {
		name      string
		url       string
		opts      gogit.CloneOptions
		wantLimit string
		wantErr   string
	}{
		{name: "1 GiB blob of zeros in a 1 MB pack", url: zeros.HTTPURL("zeros.git"), wantLimit: "MaxObjectSize"},
		{name: "pack whose object inflates to 1 GiB", url: hostileServer(t, "pack", up, lyingPack(1<<30)), wantErr: "header says 10"},
		{name: "endless error body", url: hostileServer(t, "401", nil, nil), wantErr: "authentication"},
		{name: "endless advertisement", url: hostileServer(t, "advertisement", nil, nil), wantErr: "reference advertisement is larger"},
		{name: "git bomb of a million paths", url: bombSrv.HTTPURL("bomb.git"), opts: gogit.CloneOptions{MaxFiles: 20000}, wantLimit: "MaxFiles"},
	}
	for _, tc := range cases {
		for _, op := range []string{"clone", "export"} {
			t.Run(tc.name+"/"+op, func(t *testing.T) {
				t.Parallel()
				rep := inChild(t, childJob{Op: op, URL: tc.url, Opts: tc.opts})
				if rep.Limit != tc.wantLimit || !strings.Contains(rep.Err, tc.wantErr) || rep.Err == "" {
					t.Fatalf("err = %q (limit %q), want limit %q, %q", rep.Err, rep.Limit, tc.wantLimit, tc.wantErr)
				}
				t.Logf("peak memory %d MiB", rep.HWMKB>>10)
				if rep.HWMKB <= 0 || rep.HWMKB>>10 > boundMB {
					t.Fatalf("peak memory %d MiB, bound %d MiB", rep.HWMKB>>10, boundMB)
				}
			})
		}
	}
}
