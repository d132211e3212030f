package wui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

type usersView struct {
	Users  []User
	Groups map[int64]string
	Now    time.Time
}

type userFormView struct {
	New    bool
	User   User
	Groups []Group
	Errors FieldErrors
	Locked bool
}

func (s *Server) usersPage(ctx *fasthttp.RequestCtx) {
	users, err := s.b.Users.ListUsers(ctx)
	if err != nil {
		s.backendError(ctx, "list users", err)
		return
	}
	names, _, err := s.groupNames(ctx)
	if err != nil {
		s.backendError(ctx, "list groups", err)
		return
	}
	s.render(ctx, fasthttp.StatusOK, "users", pageData{Title: "Users", Section: "access", Nav: "users",
		Data: usersView{Users: users, Groups: names, Now: s.cfg.Now()}})
}

func (s *Server) userForm(ctx *fasthttp.RequestCtx) {
	v := userFormView{New: param(ctx, "id") == ""}
	if !v.New {
		id, ok := routeID(ctx)
		if !ok {
			s.fail(ctx, false, fasthttp.StatusNotFound, "no such user")
			return
		}
		u, err := s.b.Users.User(ctx, id)
		if errors.Is(err, ErrNotFound) {
			s.fail(ctx, false, fasthttp.StatusNotFound, "no such user")
			return
		}
		if err != nil {
			s.backendError(ctx, "load the user", err)
			return
		}
		v.User = u
	}
	s.renderUserForm(ctx, fasthttp.StatusOK, v)
}

func (s *Server) renderUserForm(ctx *fasthttp.RequestCtx, status int, v userFormView) {
	_, groups, err := s.groupNames(ctx)
	if err != nil {
		s.backendError(ctx, "list groups", err)
		return
	}
	v.Groups = groups
	v.Locked = s.cfg.Now().Before(v.User.LockedUntil)
	title := "New user"
	if !v.New {
		title = "User " + v.User.Name
	}
	s.render(ctx, status, "user_form", pageData{Title: title, Section: "access", Nav: "users", Data: v})
}

func userInput(args *fasthttp.Args) UserInput {
	return UserInput{
		Name:     strings.TrimSpace(string(args.Peek("name"))),
		Password: string(args.Peek("password")),
		Disabled: args.Has("disabled"),
		Groups:   formIDs(args, "groups"),
	}
}

func (s *Server) userSubmit(ctx *fasthttp.RequestCtx) {
	in := userInput(ctx.PostArgs())
	isNew := param(ctx, "id") == ""
	var u User
	var err error
	if isNew {
		u, err = s.b.Users.CreateUser(ctx, in)
	} else {
		id, ok := routeID(ctx)
		if !ok {
			s.fail(ctx, false, fasthttp.StatusNotFound, "no such user")
			return
		}
		u, err = s.b.Users.UpdateUser(ctx, id, in)
		u.ID = id
	}
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			s.fail(ctx, false, fasthttp.StatusNotFound, "no such user")
			return
		}
		fe, ok := formError(err)
		if !ok {
			s.backendError(ctx, "save the user", err)
			return
		}
		v := userFormView{New: isNew, Errors: fe, User: User{ID: u.ID, Name: in.Name, Disabled: in.Disabled, Groups: in.Groups}}
		s.renderUserForm(ctx, fasthttp.StatusBadRequest, v)
		return
	}
	me := reqOf(ctx).principal.Name
	if isNew {
		s.adminEvent(ctx, "access.user.create", fmt.Sprintf("User %s created user %s", me, u.Name))
	} else {
		s.adminEvent(ctx, "access.user.update", fmt.Sprintf("User %s changed user %s", me, u.Name))
	}
	redirect(ctx, "/access/users", fasthttp.StatusSeeOther)
}

func (s *Server) userUnlock(ctx *fasthttp.RequestCtx) {
	id, ok := routeID(ctx)
	if !ok {
		s.fail(ctx, false, fasthttp.StatusNotFound, "no such user")
		return
	}
	if err := s.b.Users.UnlockUser(ctx, id); errors.Is(err, ErrNotFound) {
		s.fail(ctx, false, fasthttp.StatusNotFound, "no such user")
		return
	} else if err != nil {
		s.backendError(ctx, "unlock the user", err)
		return
	}
	s.adminEvent(ctx, "access.user.unlock", fmt.Sprintf("User %s unlocked user id %d", reqOf(ctx).principal.Name, id))
	redirect(ctx, fmt.Sprintf("/access/users/%d", id), fasthttp.StatusSeeOther)
}

func (s *Server) userDelete(ctx *fasthttp.RequestCtx) {
	id, ok := routeID(ctx)
	if !ok {
		s.fail(ctx, false, fasthttp.StatusNotFound, "no such user")
		return
	}
	if err := s.b.Users.DeleteUser(ctx, id); errors.Is(err, ErrNotFound) {
		s.fail(ctx, false, fasthttp.StatusNotFound, "no such user")
		return
	} else if err != nil {
		s.backendError(ctx, "delete the user", err)
		return
	}
	s.logins.deleteUser(id)
	s.adminEvent(ctx, "access.user.delete", fmt.Sprintf("User %s deleted user id %d", reqOf(ctx).principal.Name, id))
	redirect(ctx, "/access/users", fasthttp.StatusSeeOther)
}
