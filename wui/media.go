package wui

import (
	"archive/zip"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// clipContentType is what each clip role is served as.
func clipContentType(c Clip, role ClipRole) string {
	switch role {
	case RoleCast:
		return "application/x-asciicast"
	case RoleVideo:
		return "video/mp4"
	}
	if c.ThumbnailType != "" {
		return c.ThumbnailType
	}
	return "image/png"
}

func clipExt(role ClipRole) string {
	if role == RoleVideo {
		return ".mp4"
	}
	return ".cast"
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// clipFileName is the name a clip is downloaded or zipped as.
func clipFileName(sessionID string, c Clip) string {
	return fmt.Sprintf("%s-%03d%s", unsafeFileChars.ReplaceAllString(sessionID, "_"), c.Segment, clipExt(c.Role))
}

// findClip loads the clip of the route's session and segment; it answers
// the request itself and returns false when there is none.
func (s *Server) findClip(ctx *fasthttp.RequestCtx) (string, Clip, bool) {
	id := param(ctx, "id")
	seg, err := strconv.Atoi(param(ctx, "segment"))
	if err != nil {
		s.fail(ctx, false, fasthttp.StatusNotFound, "no such clip")
		return "", Clip{}, false
	}
	clips, err := s.b.Recordings.Clips(ctx, id)
	if err != nil {
		s.backendError(ctx, "list the recording's clips", err)
		return "", Clip{}, false
	}
	for _, c := range clips {
		if c.Segment == seg {
			return id, c, true
		}
	}
	s.fail(ctx, false, fasthttp.StatusNotFound, "no such clip")
	return "", Clip{}, false
}

// clipMedia streams a clip to the player, with Range support for seeking.
// The first fetch of a clip by a login is a play, reported before any
// byte is served: "User <name> played <session id> video: <location>".
func (s *Server) clipMedia(ctx *fasthttp.RequestCtx) {
	id, c, ok := s.findClip(ctx)
	if !ok {
		return
	}
	r := reqOf(ctx)
	if r.login.firstPlay("play:"+id+"/"+strconv.Itoa(c.Segment), s.cfg.Now()) {
		ev := s.recordingEvent(ctx, "recording.play", fmt.Sprintf("User %s played %s video: %s", r.principal.Name, id, c.Location), id, c)
		if err := s.audit(ctx, ev); err != nil {
			s.backendError(ctx, "record the play in the audit log", err)
			return
		}
	}
	s.serveClipFile(ctx, id, c, c.Role, c.Size, "")
}

// clipDownload sends one clip as an attachment and reports it: "User
// <name> downloaded <session id> video: <location>". A download that
// resumes (a Range not at 0) is reported only once per login and window.
func (s *Server) clipDownload(ctx *fasthttp.RequestCtx) {
	id, c, ok := s.findClip(ctx)
	if !ok {
		return
	}
	r := reqOf(ctx)
	start, _, _, _ := parseRange(string(ctx.Request.Header.Peek("Range")), c.Size)
	first := r.login.firstPlay("download:"+id+"/"+strconv.Itoa(c.Segment), s.cfg.Now())
	if start == 0 || first {
		ev := s.recordingEvent(ctx, "recording.download", fmt.Sprintf("User %s downloaded %s video: %s", r.principal.Name, id, c.Location), id, c)
		ev.Extra["scope"] = "clip"
		if err := s.audit(ctx, ev); err != nil {
			s.backendError(ctx, "record the download in the audit log", err)
			return
		}
	}
	s.serveClipFile(ctx, id, c, c.Role, c.Size, clipFileName(id, c))
}

func (s *Server) clipThumbnail(ctx *fasthttp.RequestCtx) {
	id, c, ok := s.findClip(ctx)
	if !ok {
		return
	}
	if c.ThumbnailSize <= 0 {
		s.fail(ctx, false, fasthttp.StatusNotFound, "no thumbnail")
		return
	}
	s.serveClipFile(ctx, id, c, RoleThumbnail, c.ThumbnailSize, "")
	ctx.Response.Header.Set("Cache-Control", "private, max-age=3600")
}

func (s *Server) recordingEvent(ctx *fasthttp.RequestCtx, metric, msg, sessionID string, c Clip) event.Event {
	ev := s.newEvent(ctx, metric, event.LevelInfo, msg)
	ev.SessionID, ev.Result = sessionID, "success"
	ev.Extra = map[string]string{"location": c.Location, "segment": strconv.Itoa(c.Segment), "role": string(c.Role)}
	return ev
}

// serveClipFile answers with the whole file or the one byte range the
// request asks for (206, or 416 when it lies outside the file). Several
// ranges in one request are answered with the whole file, as RFC 9110
// allows.
func (s *Server) serveClipFile(ctx *fasthttp.RequestCtx, id string, c Clip, role ClipRole, size int64, attachment string) {
	h := &ctx.Response.Header
	h.Set("Accept-Ranges", "bytes")
	h.SetContentType(clipContentType(c, role))
	if attachment != "" {
		h.Set("Content-Disposition", `attachment; filename="`+attachment+`"`)
	}
	start, length, partial, satisfiable := parseRange(string(ctx.Request.Header.Peek("Range")), size)
	if !satisfiable {
		h.Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
		ctx.SetStatusCode(fasthttp.StatusRequestedRangeNotSatisfiable)
		return
	}
	if partial {
		ctx.SetStatusCode(fasthttp.StatusPartialContent)
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+length-1, size))
	}
	if ctx.IsHead() {
		h.SetContentLength(int(length))
		return
	}
	body, err := s.b.Recordings.OpenClip(ctx, id, c.Segment, role, start, length)
	if errors.Is(err, ErrNotFound) {
		ctx.Response.Header.Del("Content-Range")
		s.fail(ctx, false, fasthttp.StatusNotFound, "the clip is not available")
		return
	}
	if err != nil {
		ctx.Response.Header.Del("Content-Range")
		s.backendError(ctx, "open the clip", err)
		return
	}
	r := reqOf(ctx)
	r.streamed = true
	line := s.access.prepare(ctx, r)
	ctx.SetBodyStream(&countingBody{r: io.LimitReader(body, length), c: body, done: func(n int64) {
		s.access.finish(line, r, n)
	}}, int(length))
}

// parseRange reads a Range header for a file of size bytes. Without a
// usable single byte range it returns the whole file.
func parseRange(h string, size int64) (start, length int64, partial, satisfiable bool) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, size, false, true
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, size, false, true
	}
	if a == "" { // suffix: the last b bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return 0, size, false, true
		}
		if n == 0 || size == 0 {
			return 0, 0, false, false
		}
		n = min(n, size)
		return size - n, n, true, true
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 {
		return 0, size, false, true
	}
	last := size - 1
	if b != "" {
		if last, err = strconv.ParseInt(b, 10, 64); err != nil || last < first {
			return 0, size, false, true
		}
		last = min(last, size-1)
	}
	if first >= size {
		return 0, 0, false, false
	}
	return first, last - first + 1, true, true
}

// countingBody is a streamed response body that closes its source and
// reports how much it sent when fasthttp is done with it.
type countingBody struct {
	r    io.Reader
	c    io.Closer
	n    int64
	done func(int64)
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

func (b *countingBody) Close() error {
	err := b.c.Close()
	if b.done != nil {
		b.done(b.n)
		b.done = nil
	}
	return err
}

// downloadAll streams a zip of every clip of the session, written as the
// clips are read so that nothing is held whole in memory, after reporting
// "User <name> downloaded entire session: <session id>".
func (s *Server) downloadAll(ctx *fasthttp.RequestCtx) {
	id := param(ctx, "id")
	if _, err := s.b.Sessions.Session(ctx, id); errors.Is(err, ErrNotFound) {
		s.fail(ctx, false, fasthttp.StatusNotFound, "no such session")
		return
	} else if err != nil {
		s.backendError(ctx, "load the session", err)
		return
	}
	clips, err := s.b.Recordings.Clips(ctx, id)
	if err != nil {
		s.backendError(ctx, "list the recording's clips", err)
		return
	}
	if len(clips) == 0 {
		s.fail(ctx, false, fasthttp.StatusNotFound, "the session has no playable recording")
		return
	}
	r := reqOf(ctx)
	ev := s.newEvent(ctx, "recording.download", event.LevelInfo, fmt.Sprintf("User %s downloaded entire session: %s", r.principal.Name, id))
	ev.SessionID, ev.Result = id, "success"
	ev.Extra = map[string]string{"scope": "session", "clips": strconv.Itoa(len(clips))}
	if err := s.audit(ctx, ev); err != nil {
		s.backendError(ctx, "record the download in the audit log", err)
		return
	}
	name := unsafeFileChars.ReplaceAllString(id, "_")
	ctx.Response.Header.SetContentType("application/zip")
	ctx.Response.Header.Set("Content-Disposition", `attachment; filename="`+name+`.zip"`)
	r.streamed = true
	line := s.access.prepare(ctx, r)
	modified := s.cfg.Now()
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		cw := &countingWriter{w: w}
		if err := s.writeZip(cw, id, name, clips, modified); err != nil {
			s.cfg.Logger.Error("wui: download all", "session", id, "err", err)
		}
		w.Flush()
		s.access.finish(line, r, cw.n)
	})
}

// writeZip writes the clips into w as <id>/<id>-NNN.ext. Video is stored
// as it is (already compressed); terminal casts are deflated.
func (s *Server) writeZip(w io.Writer, id, dir string, clips []Clip, modified time.Time) error {
	zw := zip.NewWriter(w)
	for _, c := range clips {
		method := zip.Deflate
		if c.Role == RoleVideo {
			method = zip.Store
		}
		f, err := zw.CreateHeader(&zip.FileHeader{Name: dir + "/" + clipFileName(id, c), Method: method, Modified: modified})
		if err != nil {
			return fmt.Errorf("wui: zip: %w", err)
		}
		body, err := s.b.Recordings.OpenClip(context.Background(), id, c.Segment, c.Role, 0, -1)
		if err != nil {
			return fmt.Errorf("wui: zip: open clip %d: %w", c.Segment, err)
		}
		_, err = io.Copy(f, body)
		body.Close()
		if err != nil {
			return fmt.Errorf("wui: zip: clip %d: %w", c.Segment, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("wui: zip: %w", err)
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
