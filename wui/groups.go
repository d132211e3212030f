package wui

import (
	"errors"
	"fmt"
	"strings"

	"github.com/valyala/fasthttp"
)

type groupsView struct {
	Groups []Group
}

type groupFormView struct {
	New         bool
	Group       Group
	Permissions []Permission
	Errors      FieldErrors
}

func (s *Server) groupsPage(ctx *fasthttp.RequestCtx) {
	groups, err := s.b.Groups.ListGroups(ctx)
	if err != nil {
		s.backendError(ctx, "list groups", err)
		return
	}
	s.render(ctx, fasthttp.StatusOK, "groups", pageData{Title: "Groups", Section: "access", Nav: "groups", Data: groupsView{Groups: groups}})
}

func (s *Server) groupForm(ctx *fasthttp.RequestCtx) {
	v := groupFormView{New: param(ctx, "id") == "", Group: Group{RecordSessions: true}}
	if !v.New {
		id, ok := routeID(ctx)
		if !ok {
			s.fail(ctx, false, fasthttp.StatusNotFound, "no such group")
			return
		}
		g, err := s.b.Groups.Group(ctx, id)
		if errors.Is(err, ErrNotFound) {
			s.fail(ctx, false, fasthttp.StatusNotFound, "no such group")
			return
		}
		if err != nil {
			s.backendError(ctx, "load the group", err)
			return
		}
		v.Group = g
	}
	s.renderGroupForm(ctx, fasthttp.StatusOK, v)
}

func (s *Server) renderGroupForm(ctx *fasthttp.RequestCtx, status int, v groupFormView) {
	v.Permissions = AllPermissions()
	title := "New group"
	if !v.New {
		title = "Group " + v.Group.Name
	}
	s.render(ctx, status, "group_form", pageData{Title: title, Section: "access", Nav: "groups", Data: v})
}

func groupInput(args *fasthttp.Args) GroupInput {
	in := GroupInput{Name: strings.TrimSpace(string(args.Peek("name"))), RecordSessions: args.Has("record_sessions")}
	for _, p := range args.PeekMulti("permissions") {
		for _, known := range AllPermissions() {
			if string(p) == string(known) {
				in.Permissions = append(in.Permissions, known)
			}
		}
	}
	return in
}

func (s *Server) groupSubmit(ctx *fasthttp.RequestCtx) {
	in := groupInput(ctx.PostArgs())
	isNew := param(ctx, "id") == ""
	var g Group
	var err error
	var id int64
	if isNew {
		g, err = s.b.Groups.CreateGroup(ctx, in)
	} else {
		var ok bool
		if id, ok = routeID(ctx); !ok {
			s.fail(ctx, false, fasthttp.StatusNotFound, "no such group")
			return
		}
		g, err = s.b.Groups.UpdateGroup(ctx, id, in)
	}
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			s.fail(ctx, false, fasthttp.StatusNotFound, "no such group")
			return
		}
		fe, ok := formError(err)
		if !ok {
			s.backendError(ctx, "save the group", err)
			return
		}
		v := groupFormView{New: isNew, Errors: fe, Group: Group{ID: id, Name: in.Name, Permissions: in.Permissions, RecordSessions: in.RecordSessions}}
		s.renderGroupForm(ctx, fasthttp.StatusBadRequest, v)
		return
	}
	me := reqOf(ctx).principal.Name
	if isNew {
		s.adminEvent(ctx, "access.group.create", fmt.Sprintf("User %s created group %s", me, g.Name))
	} else {
		s.adminEvent(ctx, "access.group.update", fmt.Sprintf("User %s changed group %s", me, g.Name))
	}
	redirect(ctx, "/access/groups", fasthttp.StatusSeeOther)
}

func (s *Server) groupDelete(ctx *fasthttp.RequestCtx) {
	id, ok := routeID(ctx)
	if !ok {
		s.fail(ctx, false, fasthttp.StatusNotFound, "no such group")
		return
	}
	if err := s.b.Groups.DeleteGroup(ctx, id); errors.Is(err, ErrNotFound) {
		s.fail(ctx, false, fasthttp.StatusNotFound, "no such group")
		return
	} else if err != nil {
		s.backendError(ctx, "delete the group", err)
		return
	}
	s.adminEvent(ctx, "access.group.delete", fmt.Sprintf("User %s deleted group id %d", reqOf(ctx).principal.Name, id))
	redirect(ctx, "/access/groups", fasthttp.StatusSeeOther)
}
