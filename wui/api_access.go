package wui

import (
	"fmt"

	"github.com/valyala/fasthttp"
)

// The access-management part of the JSON API: users, groups, targets.

func (s *Server) apiID(ctx *fasthttp.RequestCtx) (int64, bool) {
	id, ok := routeID(ctx)
	if !ok {
		writeJSON(ctx, fasthttp.StatusNotFound, map[string]string{"error": "not found"})
	}
	return id, ok
}

func (s *Server) apiUsers(ctx *fasthttp.RequestCtx) {
	users, err := s.b.Users.ListUsers(ctx)
	s.apiResult(ctx, "list users", fasthttp.StatusOK, map[string]any{"users": nonNil(users)}, err)
}

func (s *Server) apiUser(ctx *fasthttp.RequestCtx) {
	if id, ok := s.apiID(ctx); ok {
		u, err := s.b.Users.User(ctx, id)
		s.apiResult(ctx, "load the user", fasthttp.StatusOK, u, err)
	}
}

func (s *Server) apiCreateUser(ctx *fasthttp.RequestCtx) {
	var in UserInput
	if !readJSON(ctx, &in) {
		return
	}
	u, err := s.b.Users.CreateUser(ctx, in)
	if err == nil {
		s.adminEvent(ctx, "access.user.create", fmt.Sprintf("User %s created user %s", reqOf(ctx).principal.Name, u.Name))
	}
	s.apiResult(ctx, "create the user", fasthttp.StatusCreated, u, err)
}

func (s *Server) apiUpdateUser(ctx *fasthttp.RequestCtx) {
	id, ok := s.apiID(ctx)
	var in UserInput
	if !ok || !readJSON(ctx, &in) {
		return
	}
	u, err := s.b.Users.UpdateUser(ctx, id, in)
	if err == nil {
		s.adminEvent(ctx, "access.user.update", fmt.Sprintf("User %s changed user %s", reqOf(ctx).principal.Name, u.Name))
	}
	s.apiResult(ctx, "save the user", fasthttp.StatusOK, u, err)
}

func (s *Server) apiDeleteUser(ctx *fasthttp.RequestCtx) {
	if id, ok := s.apiID(ctx); ok {
		err := s.b.Users.DeleteUser(ctx, id)
		if err == nil {
			s.logins.deleteUser(id)
			s.adminEvent(ctx, "access.user.delete", fmt.Sprintf("User %s deleted user id %d", reqOf(ctx).principal.Name, id))
		}
		s.apiResult(ctx, "delete the user", fasthttp.StatusOK, map[string]int64{"deleted": id}, err)
	}
}

func (s *Server) apiUnlockUser(ctx *fasthttp.RequestCtx) {
	if id, ok := s.apiID(ctx); ok {
		err := s.b.Users.UnlockUser(ctx, id)
		if err == nil {
			s.adminEvent(ctx, "access.user.unlock", fmt.Sprintf("User %s unlocked user id %d", reqOf(ctx).principal.Name, id))
		}
		s.apiResult(ctx, "unlock the user", fasthttp.StatusOK, map[string]int64{"unlocked": id}, err)
	}
}

func (s *Server) apiGroups(ctx *fasthttp.RequestCtx) {
	groups, err := s.b.Groups.ListGroups(ctx)
	s.apiResult(ctx, "list groups", fasthttp.StatusOK, map[string]any{"groups": nonNil(groups)}, err)
}

func (s *Server) apiGroup(ctx *fasthttp.RequestCtx) {
	if id, ok := s.apiID(ctx); ok {
		g, err := s.b.Groups.Group(ctx, id)
		s.apiResult(ctx, "load the group", fasthttp.StatusOK, g, err)
	}
}

func (s *Server) apiCreateGroup(ctx *fasthttp.RequestCtx) {
	var in GroupInput
	if !readJSON(ctx, &in) {
		return
	}
	g, err := s.b.Groups.CreateGroup(ctx, in)
	if err == nil {
		s.adminEvent(ctx, "access.group.create", fmt.Sprintf("User %s created group %s", reqOf(ctx).principal.Name, g.Name))
	}
	s.apiResult(ctx, "create the group", fasthttp.StatusCreated, g, err)
}

func (s *Server) apiUpdateGroup(ctx *fasthttp.RequestCtx) {
	id, ok := s.apiID(ctx)
	var in GroupInput
	if !ok || !readJSON(ctx, &in) {
		return
	}
	g, err := s.b.Groups.UpdateGroup(ctx, id, in)
	if err == nil {
		s.adminEvent(ctx, "access.group.update", fmt.Sprintf("User %s changed group %s", reqOf(ctx).principal.Name, g.Name))
	}
	s.apiResult(ctx, "save the group", fasthttp.StatusOK, g, err)
}

func (s *Server) apiDeleteGroup(ctx *fasthttp.RequestCtx) {
	if id, ok := s.apiID(ctx); ok {
		err := s.b.Groups.DeleteGroup(ctx, id)
		if err == nil {
			s.adminEvent(ctx, "access.group.delete", fmt.Sprintf("User %s deleted group id %d", reqOf(ctx).principal.Name, id))
		}
		s.apiResult(ctx, "delete the group", fasthttp.StatusOK, map[string]int64{"deleted": id}, err)
	}
}

func (s *Server) apiTargets(ctx *fasthttp.RequestCtx) {
	targets, err := s.b.Targets.ListTargets(ctx)
	s.apiResult(ctx, "list targets", fasthttp.StatusOK, map[string]any{"targets": nonNil(targets)}, err)
}

func (s *Server) apiTarget(ctx *fasthttp.RequestCtx) {
	if id, ok := s.apiID(ctx); ok {
		t, err := s.b.Targets.Target(ctx, id)
		s.apiResult(ctx, "load the target", fasthttp.StatusOK, t, err)
	}
}

func (s *Server) apiCreateTarget(ctx *fasthttp.RequestCtx) {
	var in TargetInput
	if !readJSON(ctx, &in) {
		return
	}
	t, err := s.b.Targets.CreateTarget(ctx, in)
	if err == nil {
		s.adminEvent(ctx, "access.target.create", fmt.Sprintf("User %s created target %s", reqOf(ctx).principal.Name, t.Name))
	}
	s.apiResult(ctx, "create the target", fasthttp.StatusCreated, t, err)
}

func (s *Server) apiUpdateTarget(ctx *fasthttp.RequestCtx) {
	id, ok := s.apiID(ctx)
	var in TargetInput
	if !ok || !readJSON(ctx, &in) {
		return
	}
	t, err := s.b.Targets.UpdateTarget(ctx, id, in)
	if err == nil {
		s.adminEvent(ctx, "access.target.update", fmt.Sprintf("User %s changed target %s", reqOf(ctx).principal.Name, t.Name))
	}
	s.apiResult(ctx, "save the target", fasthttp.StatusOK, t, err)
}

func (s *Server) apiDeleteTarget(ctx *fasthttp.RequestCtx) {
	if id, ok := s.apiID(ctx); ok {
		err := s.b.Targets.DeleteTarget(ctx, id)
		if err == nil {
			s.adminEvent(ctx, "access.target.delete", fmt.Sprintf("User %s deleted target id %d", reqOf(ctx).principal.Name, id))
		}
		s.apiResult(ctx, "delete the target", fasthttp.StatusOK, map[string]int64{"deleted": id}, err)
	}
}
