package gitopsctl

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// ANSI colours.
const (
	red    = "31"
	green  = "32"
	yellow = "33"
	cyan   = "36"
	bold   = "1"
	plain  = ""
)

// printer writes to one stream, colouring only when told to.
type printer struct {
	w     io.Writer
	color bool
	tty   bool
	now   func() time.Time
	// live is set while a live progress line is on the terminal.
	live bool
}

// paint returns s in colour c when colouring.
func (p *printer) paint(c, s string) string {
	if !p.color || c == plain || s == "" {
		return s
	}
	return "\x1b[" + c + "m" + s + "\x1b[0m"
}

// line prints one line in colour c.
func (p *printer) line(c, format string, args ...any) {
	p.endLive()
	fmt.Fprintln(p.w, p.paint(c, fmt.Sprintf(format, args...)))
}

// Lines of the progress vocabulary, as Flux's CLI prints them.
func (p *printer) step(format string, args ...any)    { p.line(plain, "► "+format, args...) }
func (p *printer) success(format string, args ...any) { p.line(green, "✔ "+format, args...) }
func (p *printer) warn(format string, args ...any)    { p.line(yellow, "⚠ "+format, args...) }
func (p *printer) waiting(format string, args ...any) { p.line(plain, "◎ "+format, args...) }

// progress shows a line that the next progress call replaces on a
// terminal; elsewhere each distinct line is printed once.
func (p *printer) progress(s string) {
	if !p.tty {
		fmt.Fprintln(p.w, s)
		return
	}
	width := terminalWidth(p.w)
	if width > 1 {
		s = truncate(s, width-1)
	}
	fmt.Fprint(p.w, "\r\x1b[K"+s)
	p.live = true
}

// endLive ends a live progress line, keeping it on screen.
func (p *printer) endLive() {
	if p.live {
		fmt.Fprintln(p.w)
		p.live = false
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// terminalWidth returns the width of the terminal w is, or 0.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return width
}

// truncate shortens s to n runes, ending it with "…" when cut.
func truncate(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// oneLine folds a message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// table writes aligned columns. Rows given after a flush are aligned with
// those before (get --watch prints one row at a time).
type table struct {
	p      *printer
	header []string
	rows   [][]string
	widths []int
	headed bool
	// fit is the column whose cells are shortened so that rows fit the
	// terminal; -1 for none.
	fit int
	// color, when set, returns the colour of a cell.
	color func(col int, text string) string
}

func (p *printer) table(header ...string) *table {
	return &table{p: p, header: header, fit: -1}
}

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

// flush writes the header (the first time) and the rows given since the
// last flush.
func (t *table) flush() {
	if t.fit >= 0 && t.p.tty && !t.headed {
		t.shorten(terminalWidth(t.p.w))
	}
	all := t.rows
	if !t.headed {
		all = append([][]string{t.header}, t.rows...)
	}
	for _, r := range all {
		for i, c := range r {
			for len(t.widths) <= i {
				t.widths = append(t.widths, 0)
			}
			t.widths[i] = max(t.widths[i], utf8.RuneCountInString(c))
		}
	}
	t.p.endLive()
	for ri, r := range all {
		var b strings.Builder
		for i, c := range r {
			cell := c
			if t.color != nil && (t.headed || ri > 0) {
				cell = t.p.paint(t.color(i, c), c)
			}
			b.WriteString(cell)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", t.widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		fmt.Fprintln(t.p.w, b.String())
	}
	t.headed = true
	t.rows = nil
}

// shorten cuts the fit column so that every row fits width.
func (t *table) shorten(width int) {
	if width <= 0 {
		return
	}
	widths := make([]int, len(t.header))
	for _, r := range append([][]string{t.header}, t.rows...) {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], utf8.RuneCountInString(c))
			}
		}
	}
	others := 0
	for i, w := range widths {
		if i != t.fit {
			others += w + 2
		}
	}
	room := max(width-others-1, 20)
	for _, r := range t.rows {
		if t.fit < len(r) {
			r[t.fit] = truncate(r[t.fit], room)
		}
	}
}

// age formats the time since t as kubectl does: 45s, 12m, 3h, 5d.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// elapsed formats a duration for progress lines: 840ms, 1.3s, 2m5s.
func elapsed(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

// shortRevision abbreviates a revision's hash to 12 characters:
// main@sha1:0123456789ab.
func shortRevision(rev string) string {
	at, colon := strings.LastIndex(rev, "@"), strings.LastIndex(rev, ":")
	if colon < 0 || colon < at || len(rev)-colon-1 <= 12 {
		return rev
	}
	return rev[:colon+13]
}
