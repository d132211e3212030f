package wui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

//go:embed templates/*.html
var templateFS embed.FS

// pageData is what every page template gets: the layout reads the common
// fields, the page its Data.
type pageData struct {
	Title   string
	Section string   // highlighted in the navigation: sessions, logs, reports, settings, access, status
	Nav     string   // highlighted sub-item
	Refresh int      // seconds between automatic reloads; 0: none
	Scripts []string // under /static/, loaded after the page's HTML
	Styles  []string // under /static/, besides app.css
	Data    any

	Me      Principal
	CSRF    string
	Version string
}

// Can lets a template ask about a permission by name.
func (p pageData) Can(perm string) bool { return p.Me.Can(Permission(perm)) }

// LoggedIn is true on pages of a logged-in user.
func (p pageData) LoggedIn() bool { return p.Me.Name != "" }

type templates struct {
	pages map[string]*template.Template
}

var templateFuncs = template.FuncMap{
	"fmtTime":     fmtTime,
	"fmtDuration": fmtDuration,
	"fmtBytes":    fmtBytes,
	"fmtMS":       fmtMS,
	"snippet":     snippet,
	"seconds":     func(ms int64) string { return fmt.Sprintf("%.3f", float64(ms)/1000) },
	"lower":       strings.ToLower,
	"add":         func(a, b int) int { return a + b },
	"add64":       func(a, b int64) int64 { return a + b },
	"clipURL":     clipURL,
	"u64":         func(n uint64) int64 { return int64(min(n, 1<<62)) },
	// pct10 rounds a percentage to a multiple of 10 for the bar classes
	// (.w0 … .w100): a width from a style attribute would need inline CSS.
	"pct10":  func(p float64) int { return int(max(0, min(100, p))+5) / 10 * 10 },
	"pct10i": func(p int) int { return (max(0, min(100, p)) + 5) / 10 * 10 },
	"hasPerm": func(perms []Permission, p Permission) bool {
		for _, q := range perms {
			if q == p {
				return true
			}
		}
		return false
	},
	"hasID": func(ids []int64, id int64) bool {
		for _, x := range ids {
			if x == id {
				return true
			}
		}
		return false
	},
}

// loadTemplates parses every page together with the layout.
func loadTemplates() (*templates, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("wui: templates: %w", err)
	}
	t := &templates{pages: map[string]*template.Template{}}
	for _, n := range names {
		page := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if page == "layout" {
			continue
		}
		tp, err := template.New(page).Funcs(templateFuncs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("wui: template %s: %w", page, err)
		}
		t.pages[page] = tp
	}
	return t, nil
}

var renderBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render writes a page with the layout.
func (s *Server) render(ctx *fasthttp.RequestCtx, status int, page string, pd pageData) {
	r := reqOf(ctx)
	pd.Version = s.cfg.Version
	if r.login != nil {
		pd.Me, pd.CSRF = r.principal, r.login.csrf
	}
	t := s.tmpl.pages[page]
	if t == nil {
		panic("wui: no template " + page)
	}
	buf := renderBufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer renderBufs.Put(buf)
	if err := t.ExecuteTemplate(buf, "layout", pd); err != nil {
		s.cfg.Logger.Error("wui: render", "page", page, "err", err)
		ctx.Error("internal error", fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(buf.Bytes())
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func fmtDuration(start, end time.Time) string {
	if end.IsZero() {
		return "active"
	}
	return fmtMS(end.Sub(start).Milliseconds())
}

func fmtMS(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	h, m, sec := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%dh %02dm %02ds", h, m, sec)
	}
	if m > 0 {
		return fmt.Sprintf("%dm %02ds", m, sec)
	}
	return fmt.Sprintf("%ds", sec)
}

func fmtBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// snippet escapes a transcript line and marks the matched terms.
func snippet(s string) template.HTML {
	e := template.HTMLEscapeString(s)
	e = strings.ReplaceAll(e, SnippetStart, "<mark>")
	e = strings.ReplaceAll(e, SnippetEnd, "</mark>")
	// A marker without its pair must not leave a tag open.
	if strings.Count(e, "<mark>") != strings.Count(e, "</mark>") {
		e = strings.ReplaceAll(strings.ReplaceAll(e, "<mark>", ""), "</mark>", "")
	}
	return template.HTML(e)
}
