package pipeline

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/pathtmpl"
	"github.com/vigilgw/vigil/daemon/internal/store"
)

// CaptureMediaType is the content type capture segments are uploaded
// with.
const CaptureMediaType = "application/x-vigil-session-log"

// roleCapture names the signed capture among a segment's objects.
const roleCapture = "capture"

// object is one file of a segment, where it is uploaded to and what it
// must be once there.
type object struct {
	path      string // local file
	key       string
	role      string // roleCapture or a render role
	mediaType string
	size      int64
	sha256    string
}

// objects lists what a segment uploads: the signed capture always, then
// every file its render produced (the manifest; none when the render was
// given up), each under the key the upload-location template gives it.
//
// The {ext} of each file makes its key unique within the segment:
//
//	capture     vsl
//	cast        cast
//	video       the file's extension (mp4, webm)
//	transcript  txt
//	poster      poster.<extension>                  poster.jpg
//	thumbnail   thumb-<seconds into the segment, 4 digits>.<extension>   thumb-0010.jpg
//
// and a second file that would get the same {ext} gets "-2", "-3", ...
// before its extension (thumb-0010-2.jpg, video-2.mp4).
//
// {segment} is the capture segment's number plus one, four digits (the
// first clip is 0001, as pathtmpl documents), and {current_epoch} the
// creation of the segment's upload job in milliseconds: fixed once, so
// that a retried or resumed upload puts every file under the key it had
// the first time.
//
// Files uploaded already keep the keys they were uploaded under (the
// segment's object key, the manifest's), whatever the template says now.
func (p *Pipeline) objects(sess store.Session, seg store.Segment, uploadJob store.Job) ([]object, error) {
	objs := []object{{path: seg.Path, role: roleCapture, mediaType: CaptureMediaType, size: seg.Size, sha256: seg.SHA256, key: seg.ObjectKey}}
	exts := []string{"vsl"}
	dir := p.renderDir(sess.ID, seg.N)
	m, ok, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	if ok {
		used := map[string]bool{"vsl": true}
		for _, f := range m.Files {
			objs = append(objs, object{path: filepath.Join(dir, f.Name), role: f.Role, mediaType: f.MediaType, size: f.Size, sha256: f.SHA256, key: f.Key})
			exts = append(exts, uniqueExt(f, used))
		}
	}
	return objs, p.assignKeys(sess, seg, uploadJob.Created, objs, exts)
}

// assignKeys renders the key of each object that has none from the
// template.
// recordKeys writes the keys the segment's renders were uploaded under
// into their manifest (the capture's goes into the store with the
// segment). A segment without renders has nothing to write.
func (p *Pipeline) recordKeys(seg store.Segment, sessID string, objs []object) error {
	dir := p.renderDir(sessID, seg.N)
	m, ok, err := readManifest(dir)
	if err != nil || !ok {
		return err
	}
	byPath := map[string]string{}
	for _, o := range objs[1:] {
		byPath[o.path] = o.key
	}
	for i, f := range m.Files {
		m.Files[i].Key = byPath[filepath.Join(dir, f.Name)]
	}
	return writeManifest(dir, m)
}

func (p *Pipeline) assignKeys(sess store.Session, seg store.Segment, epoch time.Time, objs []object, exts []string) error {
	vals := templateValues(sess, seg)
	seen := map[string]bool{}
	tmpl := p.tunables().tmpl // one template for all the segment's files
	for i := range objs {
		key := objs[i].key
		if key == "" {
			vals.Ext = exts[i]
			var err error
			if key, err = tmpl.Render(vals.Map(epoch)); err != nil {
				return fmt.Errorf("key of the %s: %w", objs[i].role, err)
			}
		}
		if seen[key] {
			return fmt.Errorf("two files of the segment would both be stored as %q", key)
		}
		seen[key] = true
		objs[i].key = key
	}
	return nil
}

// templateValues are the session's facts as the template sees them. The
// session row keeps one start time, which serves for both the created
// and the start variables.
func templateValues(sess store.Session, seg store.Segment) pathtmpl.Values {
	v := pathtmpl.Values{
		SessionID: sess.ID, Username: sess.UserName, TargetFriendlyName: sess.TargetFriendlyName,
		Created: sess.StartedAt, Started: sess.StartedAt, Segment: seg.N + 1,
	}
	if v.TargetFriendlyName == "" {
		v.TargetFriendlyName = sess.TargetName
	}
	if sess.UserID != 0 {
		v.UserID = strconv.FormatInt(sess.UserID, 10)
	}
	if sess.TargetID != 0 {
		v.TargetID = strconv.FormatInt(sess.TargetID, 10)
	}
	return v
}

// uniqueExt is the {ext} of a rendered file (see objects), recorded in
// used.
func uniqueExt(f renderedFile, used map[string]bool) string {
	fe := fileExt(f.Name)
	var ext string
	switch store.RenderRole(f.Role) {
	case store.RenderCast:
		ext = "cast"
	case store.RenderTranscript:
		ext = "txt"
	case store.RenderVideo:
		ext = or(fe, "mp4")
	case store.RenderPoster:
		ext = "poster." + or(fe, "jpg")
	case store.RenderThumbnail:
		ext = fmt.Sprintf("thumb-%04d.%s", int64(f.Offset/time.Second), or(fe, "jpg"))
	default:
		ext = f.Role + "." + or(fe, "bin")
	}
	if used[ext] {
		stem, suffix, _ := strings.Cut(ext, ".")
		if suffix == "" {
			stem, suffix = f.Role, ext
		}
		for i := 2; ; i++ {
			if c := fmt.Sprintf("%s-%d.%s", stem, i, suffix); !used[c] {
				ext = c
				break
			}
		}
	}
	used[ext] = true
	return ext
}

// fileExt is a file name's extension, lower case, if it is short and
// plain (letters and digits); "" otherwise.
func fileExt(name string) string {
	e := strings.ToLower(strings.TrimPrefix(filepath.Ext(name), "."))
	if e == "" || len(e) > 8 {
		return ""
	}
	for _, c := range e {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return ""
		}
	}
	return e
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
