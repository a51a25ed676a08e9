package repo

// This file classifies the lines of a YAML document in block style, one at
// a time, so that the index parser can cut the document into small pieces
// (one chart version each) without building its tree. It understands as
// much YAML as deciding "does this line start a new node at this
// indentation, or does it continue a scalar or a flow collection" needs:
// quoted scalars spanning lines (which libyaml accepts at any indentation),
// flow collections spanning lines, block scalars (| and >) and their
// indentation rules, multi-line plain scalars, comments, properties
// (anchors, tags), document markers and directives. Each piece is then
// decoded by a real YAML decoder, which checks everything else.

// lineKind says what a line is to the structure of the document.
type lineKind int

const (
	// lineNode starts in block context: its first token is at the
	// indentation returned with it.
	lineNode lineKind = iota
	// lineContinued continues a scalar or a flow collection of an earlier
	// line: it belongs to the piece being collected, whatever its
	// indentation.
	lineContinued
	// lineBlank is empty or holds a comment only.
	lineBlank
	// lineDocStart is "---", lineDocEnd "...", lineDirective "%...".
	lineDocStart
	lineDocEnd
	lineDirective
)

// scanner carries the state of a YAML document from one line to the next.
type scanner struct {
	dq, sq bool // inside a double- or single-quoted scalar
	flow   int  // depth of flow collections
	// flowNodeStart: inside a flow collection, the next token starts a node.
	flowNodeStart bool
	block         bool // inside a block scalar
	blockParent   int  // its content must be indented more than this
	blockIndent   int  // its content's indentation once known, else -1
	plain         bool // the last line ended inside a plain scalar
	plainParent   int  // which continues on lines indented more than this

	// About the last lineNode line:
	seqItem  bool // it starts with a sequence indicator "- "
	keyStart int  // its first token is a mapping key [keyStart, keyEnd)
	keyEnd   int  // -1 when it is not
	valStart int  // where the text after that key's ':' starts
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func blankAt(line []byte, i int) bool { return i >= len(line) || isBlank(line[i]) }

func isFlowIndicator(c byte) bool {
	return c == ',' || c == '[' || c == ']' || c == '{' || c == '}'
}

func indentOf(line []byte) int {
	i := 0
	for i < len(line) && line[i] == ' ' {
		i++
	}
	return i
}

// next classifies line (without its line break) and updates the state. For
// lineNode it also returns the line's indentation.
func (s *scanner) next(line []byte) (lineKind, int) {
	ind := indentOf(line)
	onlySpaces := ind == len(line)
	if s.block {
		switch {
		case onlySpaces:
			return lineContinued, ind
		case s.blockIndent < 0 && ind > s.blockParent:
			s.blockIndent = ind
			return lineContinued, ind
		case s.blockIndent >= 0 && ind >= s.blockIndent:
			return lineContinued, ind
		}
		s.block = false
	}
	if s.dq || s.sq || s.flow > 0 {
		s.resume(line)
		return lineContinued, ind
	}
	rest := line[ind:]
	if onlySpaces || isBlankLine(rest) {
		return lineBlank, ind
	}
	if rest[0] == '#' || (rest[0] == '\t' && isCommentAfterTabs(rest)) {
		s.plain = false
		return lineBlank, ind
	}
	if s.plain && ind > s.plainParent {
		s.continuePlain(line, ind)
		return lineContinued, ind
	}
	s.plain = false
	if ind == 0 {
		switch {
		case marker(line, '-'):
			return lineDocStart, 0
		case marker(line, '.'):
			return lineDocEnd, 0
		case line[0] == '%':
			return lineDirective, 0
		}
	}
	s.seqItem, s.keyStart, s.keyEnd, s.valStart = false, -1, -1, -1
	s.scanBlock(line, ind, true, ind-1, ind, true)
	return lineNode, ind
}

func isBlankLine(b []byte) bool {
	for _, c := range b {
		if !isBlank(c) {
			return false
		}
	}
	return true
}

func isCommentAfterTabs(b []byte) bool {
	for _, c := range b {
		if c == '#' {
			return true
		}
		if !isBlank(c) {
			return false
		}
	}
	return false
}

// marker reports a document marker "---" or "..." alone on its line (or
// followed by a comment).
func marker(line []byte, c byte) bool {
	if len(line) < 3 || line[0] != c || line[1] != c || line[2] != c {
		return false
	}
	rest := line[3:]
	for i, b := range rest {
		if b == '#' && i > 0 {
			return true
		}
		if !isBlank(b) {
			return false
		}
	}
	return true
}

// continuePlain scans a continuation line of a multi-line plain scalar: it
// ends at a comment.
func (s *scanner) continuePlain(line []byte, from int) {
	for i := from; i < len(line); i++ {
		if line[i] == '#' && i > 0 && isBlank(line[i-1]) {
			s.plain = false
			return
		}
	}
}

// resume continues a quoted scalar or a flow collection from an earlier
// line, then the rest of the line in block context.
func (s *scanner) resume(line []byte) {
	i := 0
	switch {
	case s.dq:
		j, ok := scanDouble(line, 0)
		if !ok {
			return
		}
		s.dq, i = false, j
	case s.sq:
		j, ok := scanSingle(line, 0)
		if !ok {
			return
		}
		s.sq, i = false, j
	}
	if s.flow > 0 {
		j, ok := s.scanFlow(line, i, i > 0)
		if !ok {
			return
		}
		i = j
	}
	// A key cannot span lines, so nothing on the rest of this line opens a
	// node the structure depends on; scan it for state all the same.
	s.scanBlock(line, i, false, indentOf(line)-1, i, false)
}

// scanBlock scans line from i in block context. nodeStart says whether a
// node may start at i; parent is the indentation a node's continuation
// lines must exceed; tok is where the last node started; first says i is
// the line's first token.
func (s *scanner) scanBlock(line []byte, i int, nodeStart bool, parent, tok int, first bool) {
	for i < len(line) {
		c := line[i]
		if isBlank(c) {
			i++
			continue
		}
		if c == '#' && (i == 0 || isBlank(line[i-1])) {
			return // comment
		}
		if !nodeStart {
			if c == ':' && blankAt(line, i+1) {
				// The node just scanned was a key.
				if first && s.keyStart < 0 && !s.seqItem {
					s.keyStart, s.keyEnd, s.valStart = tok, i, i+1
				}
				parent, nodeStart, first = tok, true, false
				i++
				continue
			}
			// Anything else after a complete node is not valid YAML; the
			// decoder will say so.
			return
		}
		switch {
		case c == '-' && blankAt(line, i+1):
			if first && i == indentOf(line) {
				s.seqItem = true
			}
			parent, first = i, false
			i++
		case c == '?' && blankAt(line, i+1):
			parent, first = i, false
			i++
		case c == ':' && blankAt(line, i+1):
			first = false
			i++
		case c == '&' || c == '!':
			for i < len(line) && !isBlank(line[i]) {
				i++
			}
		case c == '*':
			tok = i
			for i < len(line) && !isBlank(line[i]) {
				i++
			}
			nodeStart = false
		case c == '"':
			tok = i
			j, ok := scanDouble(line, i+1)
			if !ok {
				s.dq = true
				return
			}
			i, nodeStart = j, false
		case c == '\'':
			tok = i
			j, ok := scanSingle(line, i+1)
			if !ok {
				s.sq = true
				return
			}
			i, nodeStart = j, false
		case c == '[' || c == '{':
			tok = i
			s.flowNodeStart = false
			j, ok := s.scanFlow(line, i, false)
			if !ok {
				return
			}
			i, nodeStart = j, false
		case c == '|' || c == '>':
			s.block, s.blockParent, s.blockIndent = true, parent, -1
			for j := i + 1; j < len(line) && !isBlank(line[j]); j++ {
				if d := line[j]; d >= '1' && d <= '9' {
					base := parent
					if base < 0 {
						base = 0
					}
					s.blockIndent = base + int(d-'0')
				}
			}
			return
		default:
			// A plain scalar: it ends at ": ", at " #" or at the end of
			// the line, where it may continue on the next lines.
			tok = i
			j := i
			for ; j < len(line); j++ {
				if line[j] == ':' && blankAt(line, j+1) {
					break
				}
				if line[j] == '#' && isBlank(line[j-1]) {
					return
				}
			}
			if j == len(line) {
				s.plain, s.plainParent = true, parent
				return
			}
			i, nodeStart = j, false
		}
	}
}

// scanDouble finds the end of a double-quoted scalar starting at i (after
// the opening quote). It returns the index after the closing quote.
func scanDouble(line []byte, i int) (int, bool) {
	for ; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return len(line), false
}

// scanSingle finds the end of a single-quoted scalar (” is a quote).
func scanSingle(line []byte, i int) (int, bool) {
	for ; i < len(line); i++ {
		if line[i] == '\'' {
			if i+1 < len(line) && line[i+1] == '\'' {
				i++
				continue
			}
			return i + 1, true
		}
	}
	return len(line), false
}

// scanFlow scans a flow collection from i, where line[i] opens it (or,
// when resumed, anywhere inside it). It returns the index after the
// collection closes, or false when it continues on the next line (or a
// quoted scalar inside it does).
func (s *scanner) scanFlow(line []byte, i int, afterNode bool) (int, bool) {
	nodeStart := s.flowNodeStart && !afterNode
	for i < len(line) {
		c := line[i]
		switch {
		case isBlank(c):
			i++
			continue
		case c == '#' && (i == 0 || isBlank(line[i-1])):
			s.flowNodeStart = nodeStart
			return len(line), false
		case c == '[' || c == '{':
			s.flow++
			nodeStart = true
		case c == ']' || c == '}':
			s.flow--
			nodeStart = false
			if s.flow <= 0 {
				s.flow = 0
				return i + 1, true
			}
		case c == ',':
			nodeStart = true
		case (c == '?' || c == ':') && (blankAt(line, i+1) || isFlowIndicator(line[i+1]) || (c == ':' && !nodeStart)):
			nodeStart = true
		case nodeStart && c == '"':
			j, ok := scanDouble(line, i+1)
			if !ok {
				s.dq, s.flowNodeStart = true, false
				return len(line), false
			}
			i, nodeStart = j, false
			continue
		case nodeStart && c == '\'':
			j, ok := scanSingle(line, i+1)
			if !ok {
				s.sq, s.flowNodeStart = true, false
				return len(line), false
			}
			i, nodeStart = j, false
			continue
		case nodeStart && (c == '&' || c == '!'):
			for i < len(line) && !isBlank(line[i]) && !isFlowIndicator(line[i]) {
				i++
			}
			continue
		default:
			// A plain scalar in flow context ends at a flow indicator, at
			// ": " and at " #".
			j := i + 1
			for ; j < len(line); j++ {
				d := line[j]
				if isFlowIndicator(d) || (d == ':' && (blankAt(line, j+1) || isFlowIndicator(line[j+1]))) ||
					(d == '#' && isBlank(line[j-1])) {
					break
				}
			}
			i, nodeStart = j, false
			continue
		}
		i++
	}
	s.flowNodeStart = nodeStart
	return len(line), false
}
