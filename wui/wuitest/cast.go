package wuitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// Banner is the first line of every seeded cast: a browser test waits for
// the player to show it.
const Banner = "This session is recorded by Vigil."

type shellStep struct {
	cmd    string
	output []string
}

var shellSteps = []shellStep{
	{"uptime", []string{" 14:02:11 up 41 days,  3:12,  2 users,  load average: 0.42, 0.37, 0.31"}},
	{"df -h /var/lib/postgresql", []string{
		"Filesystem      Size  Used Avail Use% Mounted on",
		"/dev/sdb1       492G  301G  166G  65% /var/lib/postgresql"}},
	{"sudo systemctl status postgresql --no-pager", []string{
		"● postgresql.service - PostgreSQL RDBMS",
		"     Loaded: loaded (/lib/systemd/system/postgresql.service; enabled)",
		"     Active: active (exited) since Mon 2025-11-03 10:49:58 UTC; 2 weeks 6 days ago"}},
	{"tail -n 3 /var/log/syslog", []string{
		"Nov 23 14:01:02 db1 CRON[88231]: (root) CMD (/usr/local/bin/backup-wal.sh)",
		"Nov 23 14:01:09 db1 backup-wal.sh: archived 000000010000042A00000091",
		"Nov 23 14:02:00 db1 systemd[1]: Started Daily apt download activities."}},
	{"grep -c ERROR /var/log/app/app.log", []string{"3"}},
	{"sudo -u postgres psql -c 'select count(*) from orders;'", []string{
		" count", "--------", " 184467", "(1 row)"}},
	{"ls -l /etc/nginx/sites-enabled", []string{
		"total 0",
		"lrwxrwxrwx 1 root root 34 Oct  2 09:12 shop.conf -> /etc/nginx/sites-available/shop.conf"}},
	{"cat /etc/os-release | head -2", []string{`PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"`, `NAME="Debian GNU/Linux"`}},
}

// makeCast writes an asciicast v2 recording of a plausible shell session
// and returns it with its transcript (one line per command and output
// line, at the offset it appeared).
func makeCast(rng *rand.Rand, user, host string, start time.Time, segment int) ([]byte, []transcriptLine, int64) {
	var b bytes.Buffer
	header, _ := json.Marshal(map[string]any{
		"version": 2, "width": 100, "height": 26, "timestamp": start.Unix(),
		"title": fmt.Sprintf("%s@%s", user, host), "env": map[string]string{"TERM": "xterm-256color", "SHELL": "/bin/bash"},
	})
	b.Write(header)
	b.WriteByte('\n')
	var lines []transcriptLine
	t := 0.2
	emit := func(s string) {
		ev, _ := json.Marshal([]any{roundMS(t), "o", s})
		b.Write(ev)
		b.WriteByte('\n')
	}
	line := func(text string) {
		lines = append(lines, transcriptLine{segment: segment, offsetMS: int64(t * 1000), text: text})
	}
	emit("\x1b[1;33m" + Banner + "\x1b[0m\r\n")
	line(Banner)
	t += 0.3
	emit(fmt.Sprintf("Linux %s 6.1.0-27-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.115-1 x86_64\r\n\r\n", host))
	prompt := fmt.Sprintf("\x1b[1;32m%s@%s\x1b[0m:\x1b[1;34m~\x1b[0m$ ", user, host)
	steps := rng.Perm(len(shellSteps))[:4+rng.IntN(3)]
	for _, i := range steps {
		st := shellSteps[i]
		t += 0.4
		emit(prompt)
		t += 0.6
		line("$ " + st.cmd)
		for _, r := range st.cmd {
			t += 0.04 + rng.Float64()*0.08
			emit(string(r))
		}
		t += 0.2
		emit("\r\n")
		for _, o := range st.output {
			t += 0.05
			emit(o + "\r\n")
			line(o)
		}
	}
	t += 0.5
	emit(prompt)
	t += 0.7
	emit("exit\r\nlogout\r\n")
	line("$ exit")
	return b.Bytes(), lines, int64(t * 1000)
}

func roundMS(t float64) float64 { return float64(int64(t*1000)) / 1000 }
