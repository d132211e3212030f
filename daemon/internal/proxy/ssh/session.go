package sshproxy

import (
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vigilgw/vigil/daemon/internal/proxy/ssh/scp"
	"github.com/vigilgw/vigil/daemon/internal/proxy/ssh/sftp"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Request payloads (RFC 4254, section 6).
type ptyRequestMsg struct {
	Term                         string
	Columns, Rows, Width, Height uint32
	Modes                        string
}

type windowChangeMsg struct {
	Columns, Rows, Width, Height uint32
}

type envRequestMsg struct {
	Name, Value string
}

type execMsg struct {
	Command string
}

type subsystemMsg struct {
	Name string
}

type signalMsg struct {
	Signal string
}

type exitStatusMsg struct {
	Status uint32
}

type exitSignalMsg struct {
	Signal     string
	CoreDumped bool
	Message    string
	Lang       string
}

func (c *gwConn) dispatch(nc ssh.NewChannel) {
	switch nc.ChannelType() {
	case "session":
		c.handleSession(nc)
	case "direct-tcpip":
		c.handleDirectTCPIP(nc)
	default:
		nc.Reject(ssh.UnknownChannelType, "vigil: channel type not supported")
	}
}

// sessionChan is one client session channel. Until the client asks for a
// shell, a command or a subsystem, the gateway answers its requests itself
// and remembers them (pty, env, agent); then it opens the target's session
// channel, replays them, and relays.
type sessionChan struct {
	c        *gwConn
	num      uint32
	cch      ssh.Channel
	creqs    <-chan *ssh.Request
	pty      *ptyRequestMsg
	env      []envRequestMsg
	agent    bool
	leftover []byte // typed ahead of the menu's choice
	replied  bool   // the start request was answered already (menu)
}

func (c *gwConn) handleSession(nc ssh.NewChannel) {
	cch, creqs, err := nc.Accept()
	if err != nil {
		return
	}
	sc := &sessionChan{c: c, num: c.chanSeq.Add(1) - 1, cch: cch, creqs: creqs}
	c.setSessionOpen(cch, false, true)
	defer c.setSessionOpen(cch, false, false)
	defer cch.Close()
	sc.serve()
}

func (c *gwConn) setSessionOpen(ch ssh.Channel, pty, open bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if open {
		c.sessionsOpen[ch] = pty
	} else {
		delete(c.sessionsOpen, ch)
	}
}

// menuState says how a start request finds the connection's target.
type menuState int

const (
	targetSettled menuState = iota // chosen, refused, or being chosen on another channel
	menuAvailable                  // several targets, none named, no menu shown yet
)

func (c *gwConn) menuState() menuState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.menuPending && !c.menuTaken {
		return menuAvailable
	}
	return targetSettled
}

func (c *gwConn) takeMenu() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.menuPending && !c.menuTaken {
		c.menuTaken = true
		return true
	}
	return false
}

// agentAllowed says whether agent forwarding may be requested now: the
// target allows it, or the target is not chosen yet (the replay after the
// menu checks again).
func (c *gwConn) agentAllowed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.target == nil || c.target.AllowAgentForwarding
}

func reply(r *ssh.Request, ok bool) {
	if r.WantReply {
		r.Reply(ok, nil)
	}
}

func (sc *sessionChan) serve() {
	c := sc.c
	var menuDone chan menuResult
	var startReq *ssh.Request
	for {
		select {
		case req, ok := <-sc.creqs:
			if !ok {
				return
			}
			switch req.Type {
			case "pty-req":
				var p ptyRequestMsg
				if ssh.Unmarshal(req.Payload, &p) != nil {
					reply(req, false)
					continue
				}
				sc.pty = &p
				c.setSessionOpen(sc.cch, true, true)
				reply(req, true)
			case "env":
				var e envRequestMsg
				ok := ssh.Unmarshal(req.Payload, &e) == nil && c.cfg.envAllowed(e.Name)
				if ok {
					sc.env = append(sc.env, e)
				}
				reply(req, ok)
			case "window-change":
				var w windowChangeMsg
				if ssh.Unmarshal(req.Payload, &w) == nil && sc.pty != nil {
					sc.pty.Columns, sc.pty.Rows, sc.pty.Width, sc.pty.Height = w.Columns, w.Rows, w.Width, w.Height
				}
				reply(req, false)
			case "auth-agent-req@openssh.com":
				sc.agent = c.agentAllowed()
				reply(req, sc.agent)
			case "shell", "exec", "subsystem":
				if menuDone != nil {
					reply(req, false)
					continue
				}
				if c.menuState() == menuAvailable {
					if req.Type == "shell" && c.takeMenu() {
						reply(req, true)
						sc.replied = true
						startReq = req
						menuDone = make(chan menuResult, 1)
						go func() { menuDone <- c.runMenu(sc.cch, sc.pty != nil) }()
						continue
					}
					sc.refuse(req, "vigil: no target given; log in as USER:TARGET. Targets available to you: "+c.targetNames())
					return
				}
				sc.begin(req)
				return
			default:
				reply(req, false)
			}
		case res := <-menuDone:
			if res.target == nil {
				c.settle(setupResult{message: res.message})
				sc.refuse(nil, res.message)
				return
			}
			sc.leftover = res.leftover
			c.setup(*res.target)
			sc.begin(startReq)
			return
		}
	}
}

// refuse answers a start request, shows msg on stderr, exits 1 and closes
// the channel.
func (sc *sessionChan) refuse(req *ssh.Request, msg string) {
	if req != nil && !sc.replied {
		reply(req, true)
	}
	sc.cch.Stderr().Write([]byte(lineFor(msg, sc.pty != nil)))
	sc.cch.SendRequest("exit-status", false, ssh.Marshal(exitStatusMsg{Status: 1}))
	sc.cch.CloseWrite()
	sc.cch.Close()
	c := sc.c
	c.mu.Lock()
	created := c.created
	c.mu.Unlock()
	if !created {
		time.AfterFunc(refusalGrace, func() { c.terminate(reasonNormal, "") })
	}
	for r := range sc.creqs {
		reply(r, false)
	}
}

// begin connects the channel to a new session channel on the target.
func (sc *sessionChan) begin(req *ssh.Request) {
	c := sc.c
	res, ok := c.waitSetup()
	if !ok {
		if !sc.replied {
			reply(req, false)
		}
		return
	}
	if !res.ok {
		sc.refuse(req, res.message)
		return
	}
	tch, treqs, err := c.tconn.OpenChannel("session", nil)
	if err != nil {
		c.log.Warn("sshproxy: target refused a session channel", "err", err)
		sc.refuse(req, "vigil: the target refused to open a session")
		return
	}
	t := c.tee
	t.meta(sc.num, channelFacts(sc.num, "type", "session"))
	if sc.pty != nil {
		ok, _ := tch.SendRequest("pty-req", true, ssh.Marshal(sc.pty))
		m := channelFacts(sc.num, "pty", strconv.FormatBool(ok))
		m.Term = sc.pty.Term
		t.meta(sc.num, m)
		t.record(KindResize, sc.num, resizePayload(sc.pty.Columns, sc.pty.Rows, sc.pty.Width, sc.pty.Height))
	}
	for _, e := range sc.env {
		tch.SendRequest("env", false, ssh.Marshal(e))
		t.meta(sc.num, channelFacts(sc.num, "env."+e.Name, e.Value))
	}
	if sc.agent && c.target.AllowAgentForwarding {
		if ok, _ := tch.SendRequest("auth-agent-req@openssh.com", true, nil); ok {
			c.agentFwd.Store(true)
		}
	}

	in := tap{kind: KindInput, record: t.recording() && c.cfg.RecordInput}
	out := tap{kind: KindOutput, record: t.recording()}
	var closeParser func()
	switch req.Type {
	case "exec":
		var m execMsg
		if ssh.Unmarshal(req.Payload, &m) == nil {
			t.meta(sc.num, channelFacts(sc.num, "start", "exec"))
			t.record(KindExec, sc.num, []byte(m.Command))
			if cmd, ok := scp.ParseCommand(m.Command); ok {
				p := scp.NewParser(cmd, func(tr scp.Transfer) {
					sc.transfer(transferRecord{Protocol: "scp", Direction: tr.Direction, Path: tr.Path,
						Name: tr.Name, Size: tr.Received, Complete: tr.Complete})
				})
				parse := func(b []byte) { p.Write(b) }
				if cmd.Direction == scp.Upload {
					in.parse = parse
				} else {
					out.parse = parse
				}
				closeParser = func() { p.Close() }
			}
		}
	case "shell":
		t.meta(sc.num, channelFacts(sc.num, "start", "shell"))
	case "subsystem":
		var m subsystemMsg
		if ssh.Unmarshal(req.Payload, &m) == nil {
			t.meta(sc.num, channelFacts(sc.num, "start", "subsystem", "subsystem", m.Name))
			if m.Name == "sftp" {
				p := sftp.NewParser(func(tr sftp.Transfer) {
					sc.transfer(transferRecord{Protocol: "sftp", Direction: tr.Direction, Path: tr.Path,
						Size: tr.Bytes, Complete: tr.Complete})
				})
				in.parse, out.parse = p.ClientData, p.ServerData
				closeParser = p.Close
			}
		}
	}
	ok, err = tch.SendRequest(req.Type, true, req.Payload)
	ok = ok && err == nil
	if !sc.replied {
		reply(req, ok)
	} else if !ok {
		tch.Close()
		go ssh.DiscardRequests(treqs)
		sc.refuse(nil, "vigil: the target refused to start a shell")
		return
	}
	sc.relay(tch, treqs, in, out, closeParser)
}

// transfer records and reports one file transfer. It runs on the tee
// goroutine (parsers run there), so it writes the capture directly.
func (sc *sessionChan) transfer(tr transferRecord) {
	c := sc.c
	c.tee.writeNow(KindTransfer, sc.num, tr.marshal())
	e := c.newEvent("transfer."+tr.Direction, event.LevelInfo, "file transfer through SSH")
	e.Result = "success"
	if !tr.Complete {
		e.Result = "incomplete"
	}
	e.Extra = map[string]string{
		"protocol": tr.Protocol, "direction": tr.Direction, "path": tr.Path,
		"size": strconv.FormatInt(tr.Size, 10), "complete": strconv.FormatBool(tr.Complete),
	}
	if tr.Name != "" {
		e.Extra["name"] = tr.Name
	}
	c.publish(e)
}

// relay moves the channel's data and requests both ways until both sides
// have closed it, then flushes its parser.
func (sc *sessionChan) relay(tch ssh.Channel, treqs <-chan *ssh.Request, in, out tap, closeParser func()) {
	c := sc.c
	outDone := make(chan struct{})
	var outWG sync.WaitGroup
	outWG.Add(2)
	go func() {
		defer outWG.Done()
		c.pump(sc.cch, tch, sc.num, toClient, out)
	}()
	go func() {
		defer outWG.Done()
		c.pump(sc.cch.Stderr(), tch.Stderr(), sc.num, toClient, tap{kind: KindStderr, record: c.tee.recording()})
	}()
	go func() {
		outWG.Wait()
		sc.cch.CloseWrite()
		close(outDone)
	}()

	inDone := make(chan struct{})
	go func() {
		defer close(inDone)
		if len(sc.leftover) > 0 {
			if in.record {
				c.tee.record(KindInput, sc.num, sc.leftover)
			}
			c.handle.AddBytes(int64(len(sc.leftover)), 0)
			if _, err := tch.Write(sc.leftover); err != nil {
				return
			}
		}
		c.pump(tch, sc.cch, sc.num, toTarget, in)
		tch.CloseWrite()
	}()

	creqsDone := make(chan struct{})
	go func() {
		defer close(creqsDone)
		sc.forwardClientRequests(tch)
		tch.Close()
	}()

	// Exit status and signal wait until all output has been relayed, so
	// they reach the client (and the capture) after the last byte.
	var exits []*ssh.Request
	for r := range treqs {
		switch r.Type {
		case "exit-status", "exit-signal":
			exits = append(exits, r)
			reply(r, true)
		case "keepalive@openssh.com":
			reply(r, false)
		default:
			forward(sc.cch, r)
		}
	}
	<-outDone
	for _, r := range exits {
		sc.recordExit(r)
		sc.cch.SendRequest(r.Type, false, r.Payload)
	}
	sc.cch.Close()
	<-creqsDone
	<-inDone
	if closeParser != nil {
		c.tee.do(closeParser)
	}
}

func (sc *sessionChan) recordExit(r *ssh.Request) {
	t := sc.c.tee
	if r.Type == "exit-status" {
		var m exitStatusMsg
		if ssh.Unmarshal(r.Payload, &m) == nil {
			t.record(KindExitStatus, sc.num, exitStatusPayload(m.Status))
		}
		return
	}
	// The capture format has no exit-signal record: it is a channel fact.
	var m exitSignalMsg
	if ssh.Unmarshal(r.Payload, &m) == nil {
		t.meta(sc.num, channelFacts(sc.num, "exit_signal", m.Signal,
			"exit_core_dumped", strconv.FormatBool(m.CoreDumped), "exit_message", m.Message))
	}
}

// forward passes a request on to ch and its answer back.
func forward(ch ssh.Channel, r *ssh.Request) {
	ok, err := ch.SendRequest(r.Type, r.WantReply, r.Payload)
	reply(r, ok && err == nil)
}

// forwardClientRequests relays the client's requests after the start
// request, until the client closes the channel.
func (sc *sessionChan) forwardClientRequests(tch ssh.Channel) {
	c := sc.c
	t := c.tee
	for r := range sc.creqs {
		switch r.Type {
		case "window-change":
			var w windowChangeMsg
			if ssh.Unmarshal(r.Payload, &w) == nil {
				t.record(KindResize, sc.num, resizePayload(w.Columns, w.Rows, w.Width, w.Height))
			}
			forward(tch, r)
		case "signal":
			var m signalMsg
			if ssh.Unmarshal(r.Payload, &m) == nil {
				t.record(KindSignal, sc.num, []byte(m.Signal))
			}
			forward(tch, r)
		case "env":
			var e envRequestMsg
			if ssh.Unmarshal(r.Payload, &e) == nil && c.cfg.envAllowed(e.Name) {
				t.meta(sc.num, channelFacts(sc.num, "env."+e.Name, e.Value))
				forward(tch, r)
			} else {
				reply(r, false)
			}
		case "auth-agent-req@openssh.com":
			if c.target.AllowAgentForwarding {
				ok, err := tch.SendRequest(r.Type, r.WantReply, r.Payload)
				if ok && err == nil {
					c.agentFwd.Store(true)
				}
				reply(r, ok && err == nil)
			} else {
				reply(r, false)
			}
		case "pty-req":
			var p ptyRequestMsg
			if ssh.Unmarshal(r.Payload, &p) == nil {
				m := channelFacts(sc.num, "pty", "true")
				m.Term = p.Term
				t.meta(sc.num, m)
				t.record(KindResize, sc.num, resizePayload(p.Columns, p.Rows, p.Width, p.Height))
			}
			forward(tch, r)
		case "shell", "exec", "subsystem", "break", "xon-xoff", "eow@openssh.com":
			forward(tch, r)
		default:
			reply(r, false)
		}
	}
}
