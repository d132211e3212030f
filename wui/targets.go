package wui

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

type targetsView struct {
	Targets []Target
	Groups  map[int64]string
}

type targetFormView struct {
	New             bool
	Target          Target
	Groups          []Group
	Protocols       []string
	CredentialKinds []string
	Errors          FieldErrors
}

func (s *Server) targetsPage(ctx *fasthttp.RequestCtx) {
	targets, err := s.b.Targets.ListTargets(ctx)
	if err != nil {
		s.backendError(ctx, "list targets", err)
		return
	}
	names, _, err := s.groupNames(ctx)
	if err != nil {
		s.backendError(ctx, "list groups", err)
		return
	}
	s.render(ctx, fasthttp.StatusOK, "targets", pageData{Title: "Targets", Section: "access", Nav: "targets",
		Data: targetsView{Targets: targets, Groups: names}})
}

func (s *Server) targetForm(ctx *fasthttp.RequestCtx) {
	v := targetFormView{New: param(ctx, "id") == "", Target: Target{Protocol: "ssh"}}
	if !v.New {
		id, ok := routeID(ctx)
		if !ok {
			s.fail(ctx, false, fasthttp.StatusNotFound, "no such target")
			return
		}
		t, err := s.b.Targets.Target(ctx, id)
		if errors.Is(err, ErrNotFound) {
			s.fail(ctx, false, fasthttp.StatusNotFound, "no such target")
			return
		}
		if err != nil {
			s.backendError(ctx, "load the target", err)
			return
		}
		v.Target = t
	}
	s.renderTargetForm(ctx, fasthttp.StatusOK, v)
}

func (s *Server) renderTargetForm(ctx *fasthttp.RequestCtx, status int, v targetFormView) {
	_, groups, err := s.groupNames(ctx)
	if err != nil {
		s.backendError(ctx, "list groups", err)
		return
	}
	v.Groups, v.Protocols, v.CredentialKinds = groups, []string{"ssh", "vnc", "rdp"}, []string{"password", "private_key"}
	title := "New target"
	if !v.New {
		title = "Target " + v.Target.Name
	}
	s.render(ctx, status, "target_form", pageData{Title: title, Section: "access", Nav: "targets", Data: v})
}

// targetInput reads the form; the secret is taken as typed (a private
// key's line breaks matter) and only when typed.
func targetInput(args *fasthttp.Args) (TargetInput, FieldErrors) {
	in := TargetInput{
		Name: strings.TrimSpace(string(args.Peek("name"))), FriendlyName: strings.TrimSpace(string(args.Peek("friendly_name"))),
		Protocol: string(args.Peek("protocol")), Host: strings.TrimSpace(string(args.Peek("host"))),
		Username: strings.TrimSpace(string(args.Peek("username"))), CredentialKind: string(args.Peek("credential_kind")),
		CredentialSecret: strings.ReplaceAll(string(args.Peek("credential_secret")), "\r\n", "\n"),
		Groups:           formIDs(args, "groups"),
	}
	if p := strings.TrimSpace(string(args.Peek("port"))); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return in, FieldErrors{"port": "a port is a number from 1 to 65535"}
		}
		in.Port = n
	}
	return in, nil
}

func (s *Server) targetSubmit(ctx *fasthttp.RequestCtx) {
	in, fe := targetInput(ctx.PostArgs())
	isNew := param(ctx, "id") == ""
	var id int64
	if !isNew {
		var ok bool
		if id, ok = routeID(ctx); !ok {
			s.fail(ctx, false, fasthttp.StatusNotFound, "no such target")
			return
		}
	}
	var t Target
	var err error = fe
	if fe == nil {
		if isNew {
			t, err = s.b.Targets.CreateTarget(ctx, in)
		} else {
			t, err = s.b.Targets.UpdateTarget(ctx, id, in)
		}
	}
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			s.fail(ctx, false, fasthttp.StatusNotFound, "no such target")
			return
		}
		fe, ok := formError(err)
		if !ok {
			s.backendError(ctx, "save the target", err)
			return
		}
		v := targetFormView{New: isNew, Errors: fe, Target: Target{ID: id, Name: in.Name, FriendlyName: in.FriendlyName,
			Protocol: in.Protocol, Host: in.Host, Port: in.Port, Username: in.Username, CredentialKind: in.CredentialKind, Groups: in.Groups}}
		s.renderTargetForm(ctx, fasthttp.StatusBadRequest, v)
		return
	}
	me := reqOf(ctx).principal.Name
	if isNew {
		s.adminEvent(ctx, "access.target.create", fmt.Sprintf("User %s created target %s", me, t.Name))
	} else {
		s.adminEvent(ctx, "access.target.update", fmt.Sprintf("User %s changed target %s", me, t.Name))
	}
	redirect(ctx, "/access/targets", fasthttp.StatusSeeOther)
}

func (s *Server) targetDelete(ctx *fasthttp.RequestCtx) {
	id, ok := routeID(ctx)
	if !ok {
		s.fail(ctx, false, fasthttp.StatusNotFound, "no such target")
		return
	}
	if err := s.b.Targets.DeleteTarget(ctx, id); errors.Is(err, ErrNotFound) {
		s.fail(ctx, false, fasthttp.StatusNotFound, "no such target")
		return
	} else if err != nil {
		s.backendError(ctx, "delete the target", err)
		return
	}
	s.adminEvent(ctx, "access.target.delete", fmt.Sprintf("User %s deleted target id %d", reqOf(ctx).principal.Name, id))
	redirect(ctx, "/access/targets", fasthttp.StatusSeeOther)
}
