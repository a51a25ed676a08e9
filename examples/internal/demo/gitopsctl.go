package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/gitopskit/kit/examples/internal/gitopsctl"
)

// gitopsctl runs a gitopsctl command line against the demo's cluster, as a
// user would type it, showing the command and its output indented.
func (d *demo) gitopsctl(ctx context.Context, args ...string) error {
	d.printf("    $ gitopsctl %s\n", strings.Join(args, " "))
	w := &indenter{w: d.out, prefix: "      "}
	code := gitopsctl.Run(ctx, args, gitopsctl.Options{
		Stdout: w, Stderr: w, Config: d.env.Config(), Namespace: Namespace,
	})
	w.flush()
	if code != gitopsctl.ExitOK {
		return fmt.Errorf("gitopsctl %s: exit code %d", strings.Join(args, " "), code)
	}
	return nil
}

// indenter prefixes every line written through it.
type indenter struct {
	w      io.Writer
	prefix string
	buf    bytes.Buffer
}

func (in *indenter) Write(p []byte) (int, error) {
	in.buf.Write(p)
	for {
		line, err := in.buf.ReadBytes('\n')
		if err != nil {
			in.buf.Write(line) // no newline yet: keep it for later
			return len(p), nil
		}
		if _, err := fmt.Fprintf(in.w, "%s%s", in.prefix, line); err != nil {
			return 0, err
		}
	}
}

// flush writes a last line that had no newline.
func (in *indenter) flush() {
	if in.buf.Len() > 0 {
		fmt.Fprintf(in.w, "%s%s\n", in.prefix, in.buf.String())
		in.buf.Reset()
	}
}
