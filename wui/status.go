package wui

import (
	"time"

	"github.com/valyala/fasthttp"
)

type statusView struct {
	StatusInfo
	Uptime string
}

func (s *Server) statusPage(ctx *fasthttp.RequestCtx) {
	st, err := s.b.Status.Status(ctx)
	if err != nil {
		s.backendError(ctx, "read the appliance's status", err)
		return
	}
	v := statusView{StatusInfo: st}
	if !st.StartedAt.IsZero() {
		v.Uptime = fmtMS(s.cfg.Now().Sub(st.StartedAt).Truncate(time.Second).Milliseconds())
	}
	s.render(ctx, fasthttp.StatusOK, "status", pageData{Title: "System status", Section: "status", Data: v})
}

// PercentUsed is for the status page's bars.
func (d DiskUsage) PercentUsed() int {
	if d.Total == 0 {
		return 0
	}
	return int((d.Total - d.Free) * 100 / d.Total)
}

// MemPercentUsed is for the status page's bars.
func (s StatusInfo) MemPercentUsed() int {
	if s.MemTotal == 0 {
		return 0
	}
	return int(s.MemUsed * 100 / s.MemTotal)
}
