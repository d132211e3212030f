package pipeline

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v3/disk"
	"github.com/shirou/gopsutil/v3/mem"

	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Status is the pipeline at a glance, for the web UI and vigilctl.
type Status struct {
	EncodeSlots   int // QueueLength
	EncodeBusy    int // slots rendering now
	UploadWorkers int
	UploadBusy    int

	EncodeQueued     int // encode jobs waiting (new, or to retry)
	UploadQueued     int // upload jobs waiting (new, or to retry)
	RetentionWaiting int // uploaded segments whose local copies wait for retention
	Failed           int // encode and upload jobs given up (an encode given up still uploads its capture)
	Stuck            int // jobs waiting for an administrator
	// Capped: a count reached store.MaxPageSize and may be higher.
	Capped bool
}

// Status counts the queues in the journal and the slots in use.
func (p *Pipeline) Status(ctx context.Context) (Status, error) {
	s := Status{
		EncodeSlots: p.cfg.QueueLength, EncodeBusy: int(p.busy[store.JobEncode].Load()),
		UploadWorkers: p.cfg.UploadWorkers, UploadBusy: int(p.busy[store.JobUpload].Load()),
	}
	waiting := []store.JobState{store.JobPending, store.JobRetrying}
	for _, c := range []struct {
		n      *int
		kind   store.JobKind
		states []store.JobState
	}{
		{&s.EncodeQueued, store.JobEncode, waiting},
		{&s.UploadQueued, store.JobUpload, waiting},
		{&s.RetentionWaiting, store.JobDelete, waiting},
		{&s.Failed, "", []store.JobState{store.JobFailed}},
		{&s.Stuck, "", []store.JobState{store.JobStuck}},
	} {
		jobs, err := p.cfg.Store.ListJobs(ctx, store.JobFilter{Kind: c.kind, States: c.states, Limit: store.MaxPageSize})
		if err != nil {
			return Status{}, fmt.Errorf("pipeline: status: %w", err)
		}
		*c.n = len(jobs)
		s.Capped = s.Capped || len(jobs) == store.MaxPageSize
	}
	return s, nil
}

// reportResources publishes scaling.status.resources every ResourcesEvery:
// free space of the spool's filesystem, CPU and memory use, slots and
// queues.
func (p *Pipeline) reportResources(ctx context.Context) {
	p.res.cpuPercent() // the first reading is the baseline of the next
	t := time.NewTicker(p.cfg.ResourcesEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		extra, err := p.resources(ctx)
		if err != nil {
			p.log.Warn("measuring resources", "error", err)
		}
		p.publish(MetricResources, event.LevelInfo, fmt.Sprintf("encode slots %s/%s busy, %s encodes and %s uploads queued, %s%% of the spool filesystem free",
			extra["encode_slots_busy"], extra["encode_slots"], extra["encode_queued"], extra["upload_queued"], extra["spool_free_percent"]),
			nil, -1, extra)
	}
}

// resources measures what reportResources publishes; a measurement that
// fails is left out (and its error returned), the others are kept.
func (p *Pipeline) resources(ctx context.Context) (map[string]string, error) {
	extra := map[string]string{}
	var errs []error
	if u, err := disk.UsageWithContext(ctx, p.cfg.SealedDir); err == nil {
		extra["spool_free_bytes"] = strconv.FormatUint(u.Free, 10)
		extra["spool_total_bytes"] = strconv.FormatUint(u.Total, 10)
		extra["spool_free_percent"] = strconv.FormatFloat(100-u.UsedPercent, 'f', 1, 64)
	} else {
		errs = append(errs, fmt.Errorf("disk usage of %s: %w", p.cfg.SealedDir, err))
	}
	if pct, err := p.res.cpuPercent(); err == nil {
		extra["cpu_percent"] = strconv.FormatFloat(pct, 'f', 1, 64)
	} else {
		errs = append(errs, err)
	}
	if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		extra["memory_used_bytes"] = strconv.FormatUint(vm.Used, 10)
		extra["memory_total_bytes"] = strconv.FormatUint(vm.Total, 10)
		extra["memory_percent"] = strconv.FormatFloat(vm.UsedPercent, 'f', 1, 64)
	} else {
		errs = append(errs, fmt.Errorf("memory: %w", err))
	}
	st, err := p.Status(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	for k, v := range map[string]int{
		"encode_slots": st.EncodeSlots, "encode_slots_busy": st.EncodeBusy,
		"upload_workers": st.UploadWorkers, "upload_workers_busy": st.UploadBusy,
		"encode_queued": st.EncodeQueued, "upload_queued": st.UploadQueued,
		"retention_waiting": st.RetentionWaiting, "failed": st.Failed, "stuck": st.Stuck,
	} {
		extra[k] = strconv.Itoa(v)
	}
	return extra, errors.Join(errs...)
}

// resourceSampler measures CPU use between two readings of /proc/stat.
// (gopsutil's cpu package would need modules the build does not carry.)
type resourceSampler struct {
	mu          sync.Mutex
	total, idle uint64
}

func newResourceSampler() *resourceSampler { return &resourceSampler{} }

// cpuPercent is the share of CPU time, over every CPU, spent not idle
// since the previous call (since boot on the first).
func (r *resourceSampler) cpuPercent() (float64, error) {
	total, idle, err := readProcStat()
	if err != nil {
		return 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	dt, di := total-r.total, idle-r.idle
	r.total, r.idle = total, idle
	if dt == 0 || di > dt {
		return 0, nil
	}
	return 100 * float64(dt-di) / float64(dt), nil
}

// readProcStat sums the aggregate "cpu" line of /proc/stat: total and idle
// (idle + iowait) jiffies.
func readProcStat() (total, idle uint64, err error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("cpu: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0, errors.New("cpu: /proc/stat is empty")
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0, fmt.Errorf("cpu: unexpected /proc/stat line %q", sc.Text())
	}
	for i, v := range fields[1:min(len(fields), 9)] { // user nice system idle iowait irq softirq steal
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("cpu: /proc/stat: %w", err)
		}
		total += n
		if i == 3 || i == 4 {
			idle += n
		}
	}
	return total, idle, nil
}
