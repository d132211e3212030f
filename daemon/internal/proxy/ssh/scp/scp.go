package scp

import (
	"strconv"
	"strings"
)

// Direction of a transfer, seen from the user.
const (
	Upload   = "upload"   // client to target ("scp -t" on the target)
	Download = "download" // target to client ("scp -f" on the target)
)

// maxLine bounds a control line. OpenSSH limits file names to a path
// component; anything longer is not scp.
const maxLine = 8192

// maxDepth bounds the directory stack of a recursive copy.
const maxDepth = 256

// Command is a parsed scp server invocation.
type Command struct {
	Direction string // Upload for -t, Download for -f
	Recursive bool   // -r
	DirTarget bool   // -d: the destination must be a directory
	Paths     []string
}

// ParseCommand reports whether cmd, an exec request's command, runs the scp
// server side, and how. It splits words as a POSIX shell would for the plain
// quoting scp clients use ('…', "…", backslash).
func ParseCommand(cmd string) (Command, bool) {
	words, ok := splitWords(cmd)
	if !ok || len(words) < 2 {
		return Command{}, false
	}
	prog := words[0]
	if i := strings.LastIndexByte(prog, '/'); i >= 0 {
		prog = prog[i+1:]
	}
	if prog != "scp" {
		return Command{}, false
	}
	var c Command
	flags := true
	for _, w := range words[1:] {
		if flags && w == "--" {
			flags = false
			continue
		}
		if flags && len(w) > 1 && w[0] == '-' {
			for _, f := range w[1:] {
				switch f {
				case 't':
					c.Direction = Upload
				case 'f':
					c.Direction = Download
				case 'r':
					c.Recursive = true
				case 'd':
					c.DirTarget = true
				}
			}
			continue
		}
		flags = false
		c.Paths = append(c.Paths, w)
	}
	if c.Direction == "" || len(c.Paths) == 0 {
		return Command{}, false
	}
	return c, true
}

func splitWords(s string) ([]string, bool) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, false
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case ch == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, false
			}
			inWord = true
		case ch == '\\':
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
			inWord = true
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, true
}

// Transfer is one file seen in the stream.
type Transfer struct {
	Direction string
	// Path is the file's path on the target as far as the stream tells:
	// for downloads the source's directory joined with the names sent; for
	// uploads the destination joined with the names sent when the
	// destination is known to be a directory (-r, -d, trailing '/'), else
	// the destination itself (which may be a directory: see Name).
	Path string
	// Name is the file name the protocol carried, prefixed by the
	// directories of a recursive copy.
	Name     string
	Mode     string
	Size     int64 // declared size
	Received int64 // bytes seen
	Complete bool  // Received == Size
}

type state int

const (
	stLine state = iota
	stData
	stAfterData
	stStopped
)

// Parser follows the source side of an scp stream: what the client sends
// for an upload, what the target sends for a download. It is not safe for
// concurrent use.
type Parser struct {
	cmd     Command
	report  func(Transfer)
	st      state
	line    []byte
	dirs    []string
	cur     Transfer
	remain  int64
	pending bool // cur is open and not yet reported
}

// NewParser returns a parser for the stream of cmd that calls report for
// each file, when its last byte has passed or, for a cut-off file, on Close.
func NewParser(cmd Command, report func(Transfer)) *Parser {
	return &Parser{cmd: cmd, report: report}
}

// Write feeds the next bytes of the source's stream. It always consumes all
// of p and never fails, so it can sit on a tee.
func (p *Parser) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 && p.st != stStopped {
		switch p.st {
		case stData:
			k := int64(len(b))
			if k > p.remain {
				k = p.remain
			}
			p.remain -= k
			p.cur.Received += k
			b = b[k:]
			if p.remain == 0 {
				p.finish(true)
				p.st = stAfterData
			}
		case stAfterData:
			// The source ends each file with a 0 byte, or starts an error
			// line (\x01 or \x02) instead.
			if b[0] == 0 {
				b = b[1:]
			}
			p.st = stLine
		case stLine:
			i := indexNL(b)
			if i < 0 {
				if len(p.line)+len(b) > maxLine {
					p.stop()
					return n, nil
				}
				p.line = append(p.line, b...)
				b = nil
				continue
			}
			if len(p.line)+i > maxLine {
				p.stop()
				return n, nil
			}
			var line []byte
			if len(p.line) > 0 {
				p.line = append(p.line, b[:i]...)
				line = p.line
			} else {
				line = b[:i]
			}
			b = b[i+1:]
			p.control(line)
			p.line = p.line[:0]
		}
	}
	return n, nil
}

func indexNL(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i
		}
	}
	return -1
}

func (p *Parser) control(line []byte) {
	if len(line) == 0 {
		p.stop()
		return
	}
	switch line[0] {
	case 'C', 'D':
		mode, size, name, ok := parseEntry(string(line[1:]))
		if !ok {
			p.stop()
			return
		}
		if line[0] == 'D' {
			if len(p.dirs) >= maxDepth {
				p.stop()
				return
			}
			p.dirs = append(p.dirs, name)
			return
		}
		rel := name
		if len(p.dirs) > 0 {
			rel = strings.Join(p.dirs, "/") + "/" + name
		}
		p.cur = Transfer{Direction: p.cmd.Direction, Path: p.pathOf(rel), Name: rel, Mode: mode, Size: size}
		p.pending = true
		p.remain = size
		if size == 0 {
			p.finish(true)
			p.st = stAfterData
			return
		}
		p.st = stData
	case 'E':
		if len(p.dirs) > 0 {
			p.dirs = p.dirs[:len(p.dirs)-1]
		}
	case 'T', 1, 2:
		// Times and warning/error messages carry no transfer.
	default:
		p.stop()
	}
}

// parseEntry parses "MMMM SIZE NAME" of a C or D line.
func parseEntry(s string) (mode string, size int64, name string, ok bool) {
	sp := strings.IndexByte(s, ' ')
	if sp != 4 {
		return "", 0, "", false
	}
	mode = s[:4]
	for _, c := range mode {
		if c < '0' || c > '7' {
			return "", 0, "", false
		}
	}
	rest := s[5:]
	sp = strings.IndexByte(rest, ' ')
	if sp <= 0 {
		return "", 0, "", false
	}
	size, err := strconv.ParseInt(rest[:sp], 10, 64)
	if err != nil || size < 0 {
		return "", 0, "", false
	}
	name = rest[sp+1:]
	if name == "" {
		return "", 0, "", false
	}
	return mode, size, name, true
}

func (p *Parser) pathOf(rel string) string {
	if len(p.cmd.Paths) == 0 {
		return rel
	}
	base := p.cmd.Paths[0]
	if p.cmd.Direction == Download {
		// The source sends base names: the file lives next to the path asked for.
		dir := "."
		if i := strings.LastIndexByte(strings.TrimRight(base, "/"), '/'); i >= 0 {
			dir = base[:i]
			if dir == "" {
				dir = "/"
			}
		}
		return joinPath(dir, rel)
	}
	if p.cmd.Recursive || p.cmd.DirTarget || strings.HasSuffix(base, "/") || strings.Contains(rel, "/") {
		return joinPath(base, rel)
	}
	return base
}

// joinPath joins without cleaning, so a hostile "../" in a name is reported
// as sent rather than resolved away.
func joinPath(dir, rel string) string {
	if dir == "." {
		return rel
	}
	return strings.TrimRight(dir, "/") + "/" + rel
}

func (p *Parser) finish(complete bool) {
	if !p.pending {
		return
	}
	p.pending = false
	p.cur.Complete = complete && p.cur.Received == p.cur.Size
	p.report(p.cur)
}

func (p *Parser) stop() {
	p.st = stStopped
	p.line = nil
}

// Close reports a file cut off mid-transfer as incomplete.
func (p *Parser) Close() error {
	p.finish(false)
	p.st = stStopped
	return nil
}
