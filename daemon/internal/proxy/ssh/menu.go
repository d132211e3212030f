package sshproxy

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Menu limits.
const (
	menuMaxLine  = 256
	menuMaxTries = 5
)

// menuResult is the user's choice: a target, or a message saying why none.
type menuResult struct {
	target   *Target
	leftover []byte // input typed after the choice, for the target
	message  string
}

// runMenu lists the user's targets on the channel and reads a choice: a
// number or a name, then Enter. On a PTY the client's terminal is raw, so
// the menu echoes and handles backspace itself; without one the client's
// terminal does. Ctrl-C, Ctrl-D, "q" or end of input cancel.
func (c *gwConn) runMenu(rw io.ReadWriter, pty bool) menuResult {
	nl := "\n"
	if pty {
		nl = "\r\n"
	}
	var b strings.Builder
	b.WriteString("Vigil: choose a target. This session is recorded." + nl)
	for i, t := range c.permitted {
		fmt.Fprintf(&b, "  %2d) %s", i+1, sanitize(t.Name))
		if t.FriendlyName != "" && t.FriendlyName != t.Name {
			fmt.Fprintf(&b, "  %s", sanitize(t.FriendlyName))
		}
		b.WriteString(nl)
	}
	prompt := "Target number or name (q to quit): "
	if _, err := io.WriteString(rw, b.String()+prompt); err != nil {
		return menuResult{message: "vigil: no target selected"}
	}
	cancelled := menuResult{message: "vigil: no target selected"}

	var line []byte
	buf := make([]byte, 512)
	tries := 0
	skipLF := false
	for {
		n, err := rw.Read(buf)
		c.touch()
		in := buf[:n]
		for i := 0; i < len(in); i++ {
			ch := in[i]
			if skipLF {
				skipLF = false
				if ch == '\n' {
					continue
				}
			}
			switch {
			case ch == '\r' || ch == '\n':
				skipLF = ch == '\r'
				if pty {
					io.WriteString(rw, nl)
				}
				choice := strings.TrimSpace(string(line))
				line = line[:0]
				if choice == "q" || choice == "quit" {
					return cancelled
				}
				if t := c.pick(choice); t != nil {
					rest := in[i+1:]
					if skipLF && len(rest) > 0 && rest[0] == '\n' {
						rest = rest[1:]
					}
					return menuResult{target: t, leftover: append([]byte(nil), rest...)}
				}
				if tries++; tries >= menuMaxTries {
					io.WriteString(rw, "vigil: too many invalid choices"+nl)
					return cancelled
				}
				io.WriteString(rw, "No such target."+nl+prompt)
			case ch == 0x03 || ch == 0x04: // Ctrl-C, Ctrl-D
				if pty {
					io.WriteString(rw, nl)
				}
				return cancelled
			case ch == 0x7f || ch == 0x08:
				if len(line) > 0 {
					line = line[:len(line)-1]
					if pty {
						io.WriteString(rw, "\b \b")
					}
				}
			case ch >= 0x20 && ch < 0x7f:
				if len(line) < menuMaxLine {
					line = append(line, ch)
					if pty {
						rw.Write([]byte{ch})
					}
				}
			}
		}
		if err != nil {
			return cancelled
		}
	}
}

// pick finds the permitted target a menu answer names, by number or name.
func (c *gwConn) pick(choice string) *Target {
	if n, err := strconv.Atoi(choice); err == nil && n >= 1 && n <= len(c.permitted) {
		t := c.permitted[n-1]
		return &t
	}
	for _, t := range c.permitted {
		if t.Name == choice {
			return &t
		}
	}
	return nil
}
