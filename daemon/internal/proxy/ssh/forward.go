package sshproxy

import (
	"errors"
	"net"
	"strconv"
	"sync"

	"golang.org/x/crypto/ssh"
)

// forwardDenied is the reason shown when forwarding is not allowed.
const forwardDenied = "vigil: port forwarding is not permitted on this target"

// directTCPIPMsg is the extra data of direct-tcpip and forwarded-tcpip
// channels (RFC 4254, sections 7.1 and 7.2).
type directTCPIPMsg struct {
	Host     string
	Port     uint32
	OrigHost string
	OrigPort uint32
}

// forwardingTarget waits for the target and says whether it allows port
// forwarding; msg explains a refusal.
func (c *gwConn) forwardingTarget() (allowed bool, msg string) {
	if c.menuState() == menuAvailable {
		return false, "vigil: no target selected"
	}
	res, ok := c.waitSetup()
	if !ok {
		return false, "vigil: connection closing"
	}
	if !res.ok {
		return false, res.message
	}
	if !c.target.AllowPortForwarding {
		return false, forwardDenied
	}
	return true, ""
}

// globalRequests handles the client's connection-level requests: remote
// port forwarding when the target allows it, nothing else.
func (c *gwConn) globalRequests(reqs <-chan *ssh.Request) {
	for r := range reqs {
		switch r.Type {
		case "tcpip-forward", "cancel-tcpip-forward":
			allowed, msg := c.forwardingTarget()
			if !allowed {
				c.log.Info("sshproxy: remote port forwarding refused", "why", msg)
				c.recordForward("denied", r.Type, r.Payload)
				reply(r, false)
				continue
			}
			ok, payload, err := c.tconn.SendRequest(r.Type, r.WantReply, r.Payload)
			ok = ok && err == nil
			if ok && r.Type == "tcpip-forward" {
				c.remoteFwd.Store(true)
				c.recordForward("listen", r.Type, r.Payload)
			}
			if r.WantReply {
				r.Reply(ok, payload)
			}
		default:
			reply(r, false)
		}
	}
}

// recordForward notes a forwarding decision in the capture, as the facts
// of a channel number of its own: "forward" is what happened, the kind and
// the address ("open direct-tcpip 10.0.0.5:5432 from 127.0.0.1:50122").
func (c *gwConn) recordForward(what, kind string, payload []byte) {
	c.mu.Lock()
	created := c.created
	c.mu.Unlock()
	if !created {
		return
	}
	desc := what + " " + kind
	var d directTCPIPMsg
	var l struct {
		Host string
		Port uint32
	}
	switch {
	case ssh.Unmarshal(payload, &d) == nil:
		desc += " " + net.JoinHostPort(d.Host, strconv.Itoa(int(d.Port)))
		if d.OrigHost != "" {
			desc += " from " + net.JoinHostPort(d.OrigHost, strconv.Itoa(int(d.OrigPort)))
		}
	case ssh.Unmarshal(payload, &l) == nil:
		desc += " " + net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
	}
	n := c.chanSeq.Add(1) - 1
	c.tee.meta(n, channelFacts(n, "forward", desc))
}

// handleDirectTCPIP relays a local port forward (ssh -L) through the
// target when it allows port forwarding.
func (c *gwConn) handleDirectTCPIP(nc ssh.NewChannel) {
	allowed, msg := c.forwardingTarget()
	if !allowed {
		c.recordForward("denied", nc.ChannelType(), nc.ExtraData())
		nc.Reject(ssh.Prohibited, msg)
		return
	}
	tch, treqs, err := c.tconn.OpenChannel(nc.ChannelType(), nc.ExtraData())
	if err != nil {
		var oce *ssh.OpenChannelError
		if errors.As(err, &oce) {
			nc.Reject(oce.Reason, oce.Message)
		} else {
			nc.Reject(ssh.ConnectionFailed, "vigil: the target could not open the forward")
		}
		return
	}
	cch, creqs, err := nc.Accept()
	if err != nil {
		tch.Close()
		return
	}
	c.recordForward("open", nc.ChannelType(), nc.ExtraData())
	c.relayRaw(cch, creqs, tch, treqs)
}

// targetChannels handles channels the target opens: forwarded-tcpip for
// an allowed remote forward, auth-agent for allowed agent forwarding.
func (c *gwConn) targetChannels(chans <-chan ssh.NewChannel) {
	for nc := range chans {
		var allowed bool
		switch nc.ChannelType() {
		case "forwarded-tcpip":
			allowed = c.target.AllowPortForwarding && c.remoteFwd.Load()
		case "auth-agent@openssh.com":
			allowed = c.target.AllowAgentForwarding && c.agentFwd.Load()
		}
		if !allowed {
			nc.Reject(ssh.Prohibited, "vigil: not permitted")
			continue
		}
		c.goTracked(func() {
			cch, creqs, err := c.sconn.OpenChannel(nc.ChannelType(), nc.ExtraData())
			if err != nil {
				var oce *ssh.OpenChannelError
				if errors.As(err, &oce) {
					nc.Reject(oce.Reason, oce.Message)
				} else {
					nc.Reject(ssh.ConnectionFailed, "vigil: the client could not open the channel")
				}
				return
			}
			tch, treqs, err := nc.Accept()
			if err != nil {
				cch.Close()
				return
			}
			c.recordForward("open", nc.ChannelType(), nc.ExtraData())
			c.relayRaw(cch, creqs, tch, treqs)
		})
	}
}

// relayRaw relays a forwarding channel: bytes both ways, EOF and close,
// counted but not recorded (forwarded connections are noted as Meta).
func (c *gwConn) relayRaw(cch ssh.Channel, creqs <-chan *ssh.Request, tch ssh.Channel, treqs <-chan *ssh.Request) {
	go func() {
		ssh.DiscardRequests(creqs)
		tch.Close()
	}()
	go func() {
		ssh.DiscardRequests(treqs)
		cch.Close()
	}()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		c.pump(tch, cch, 0, toTarget, tap{})
		tch.CloseWrite()
	}()
	go func() {
		defer wg.Done()
		c.pump(cch, tch, 0, toClient, tap{})
		cch.CloseWrite()
	}()
	wg.Wait()
	cch.Close()
	tch.Close()
}
