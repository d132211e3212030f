package wui

import (
	"errors"
	"strconv"

	"github.com/valyala/fasthttp"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Helpers shared by the access-management pages (users.go, groups.go,
// targets.go) and their API.

// routeID reads the {id} of the route; a malformed one is "not found".
func routeID(ctx *fasthttp.RequestCtx) (int64, bool) {
	id, err := strconv.ParseInt(param(ctx, "id"), 10, 64)
	return id, err == nil && id > 0
}

// formIDs reads the checked ids of a multi-valued form field.
func formIDs(args *fasthttp.Args, key string) []int64 {
	var ids []int64
	for _, v := range args.PeekMulti(key) {
		if id, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// adminEvent reports a change made in access management.
func (s *Server) adminEvent(ctx *fasthttp.RequestCtx, metric, msg string) {
	ev := s.newEvent(ctx, metric, event.LevelInfo, msg)
	ev.Result = "success"
	s.note(ctx, ev)
}

// formError splits a backend error into field errors to show (true) or a
// failure the caller answers as a backend error (false).
func formError(err error) (FieldErrors, bool) {
	var fe FieldErrors
	if errors.As(err, &fe) {
		return fe, true
	}
	if errors.Is(err, ErrInvalid) {
		return FieldErrors{"": err.Error()}, true
	}
	return nil, false
}

// groupNames maps group ids to names for the lists.
func (s *Server) groupNames(ctx *fasthttp.RequestCtx) (map[int64]string, []Group, error) {
	groups, err := s.b.Groups.ListGroups(ctx)
	if err != nil {
		return nil, nil, err
	}
	names := make(map[int64]string, len(groups))
	for _, g := range groups {
		names[g.ID] = g.Name
	}
	return names, groups, nil
}
