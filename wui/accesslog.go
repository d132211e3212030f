package wui

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// accessLog writes one JSON object per request and line. encoding/json
// escapes whatever a client sent (control characters, quotes, invalid
// UTF-8), so a line can never be split or forged.
type accessLog struct {
	mu sync.Mutex
	w  io.Writer
}

type accessLine struct {
	Time       string  `json:"time"`
	RemoteIP   string  `json:"remote_ip"`
	Method     string  `json:"method"`
	Path       string  `json:"path"` // never the query: it may carry search text
	Status     int     `json:"status"`
	Bytes      int64   `json:"bytes"`
	DurationMS float64 `json:"duration_ms"`
	User       string  `json:"user"`
	UserAgent  string  `json:"user_agent"`
}

func (a *accessLog) log(ctx *fasthttp.RequestCtx, r *request, bytes int64) {
	a.finish(a.prepare(ctx, r), r, bytes)
}

// prepare takes what the line needs from ctx while the handler runs; a
// streamed body calls finish when it is done, after ctx is gone.
func (a *accessLog) prepare(ctx *fasthttp.RequestCtx, r *request) accessLine {
	return accessLine{
		RemoteIP:  ctx.RemoteIP().String(),
		Method:    string(ctx.Method()),
		Path:      string(ctx.Path()),
		Status:    ctx.Response.StatusCode(),
		UserAgent: string(ctx.UserAgent()),
	}
}

func (a *accessLog) finish(line accessLine, r *request, bytes int64) {
	line.Time = time.Now().UTC().Format(time.RFC3339Nano)
	line.Bytes = bytes
	line.DurationMS = float64(time.Since(r.start).Microseconds()) / 1000
	line.User = r.principal.Name
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	b = append(b, '\n')
	a.mu.Lock()
	a.w.Write(b)
	a.mu.Unlock()
}
