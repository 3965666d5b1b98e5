package live

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/host"
)

// Syslog sends each alert to a syslog receiver, the alert's JSON form as the message.
//
// Over the network (udp://host:port, tcp://host:port) messages are RFC 5424; over TCP they are
// framed by octet counting (RFC 6587 §3.4.1), one datagram each over UDP. For the local logger
// ("local": the unix datagram socket /var/run/syslog on macOS, /dev/log on Linux, found under
// the root) messages use the short form the local daemons parse, "<PRI>Mmm dd hh:mm:ss
// firewarden[PID]: MSG", which is what log/syslog writes there too: macOS syslogd and Linux
// /dev/log readers (journald, rsyslog's imuxsock) expect it and would show an RFC 5424 header
// as part of the text. log/syslog itself does not fit: it finds the local socket on its own
// (not under --root), writes RFC 3164-style headers to the network and is frozen.
//
// The facility is auth (security messages); the severity follows the alert's level.
type Syslog struct {
	network, addr string // "udp", "tcp" or "unixgram"; host:port or a socket path
	label         string
	hostname      string
	pid           int
	clock         Clock

	conn    net.Conn
	lastErr error
	retryAt time.Time // after a failure, no new connection before this
}

// SyslogOptions configure NewSyslog.
type SyslogOptions struct {
	Root     host.Root // where the local socket is looked up
	OS       host.Kind // picks the local socket
	Hostname string    // the RFC 5424 HOSTNAME; "-" when empty
	Clock    Clock     // message timestamps and redial pacing; nil: real time
}

// LocalSyslogSocket is the system logger's datagram socket on an OS.
func LocalSyslogSocket(k host.Kind) string {
	if k == host.MacOS {
		return "/var/run/syslog"
	}
	return "/dev/log"
}

// Syslog timing: network operations are bounded so that the detection loop never waits long
// on a stuck receiver, and a receiver that is down is retried at most every syslogRedial (the
// alerts in between are lost, and counted by the caller).
const (
	syslogTimeout = 2 * time.Second
	syslogRedial  = 30 * time.Second
)

// facilityAuth is the syslog facility for security and authorisation messages.
const facilityAuth = 4

// NewSyslog parses spec (local, udp://host:port or tcp://host:port) and connects. A receiver
// that cannot be reached yet is not an error: the connection is retried as alerts come.
func NewSyslog(spec string, opt SyslogOptions) (*Syslog, error) {
	s := &Syslog{hostname: sanitizeHeader(opt.Hostname, 255), pid: os.Getpid(), clock: opt.Clock}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if spec == "local" {
		s.network, s.addr = "unixgram", opt.Root.Path(LocalSyslogSocket(opt.OS))
		s.label = "--syslog local (" + LocalSyslogSocket(opt.OS) + ")"
	} else {
		u, err := url.Parse(spec)
		if err != nil || (u.Scheme != "udp" && u.Scheme != "tcp") || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			return nil, fmt.Errorf("syslog address %q: want local, udp://host:port or tcp://host:port", spec)
		}
		h, p, err := net.SplitHostPort(u.Host)
		if err != nil || h == "" {
			return nil, fmt.Errorf("syslog address %q: want host:port after %s://", spec, u.Scheme)
		}
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("syslog address %q: port %q is not 1-65535", spec, p)
		}
		s.network, s.addr, s.label = u.Scheme, u.Host, "--syslog "+spec
	}
	s.dial()
	return s, nil
}

func (s *Syslog) dial() error {
	c, err := net.DialTimeout(s.network, s.addr, syslogTimeout)
	if err != nil {
		s.lastErr = err
		s.retryAt = s.clock.Now().Add(syslogRedial)
		return err
	}
	s.conn, s.lastErr = c, nil
	return nil
}

// Name implements Sink.
func (s *Syslog) Name() string { return s.label }

// errDown is returned while a failed receiver waits for its next connection attempt.
var errDown = errors.New("receiver down; retrying later")

// Send implements Sink. A connection that fails is redialled once at once (a restarted TCP
// receiver), then not before syslogRedial.
func (s *Syslog) Send(a Alert) error {
	now := s.clock.Now()
	msg := s.format(a, now)
	for attempt := 0; attempt < 2; attempt++ {
		if s.conn == nil {
			if attempt == 0 && now.Before(s.retryAt) {
				return fmt.Errorf("%w (%v)", errDown, s.lastErr)
			}
			if err := s.dial(); err != nil {
				return err
			}
		}
		// I/O deadlines are wall-clock by nature: they bound real waiting.
		s.conn.SetWriteDeadline(time.Now().Add(syslogTimeout))
		if _, err := s.conn.Write(msg); err != nil {
			s.conn.Close()
			s.conn, s.lastErr = nil, err
			s.retryAt = now.Add(syslogRedial)
			continue
		}
		return nil
	}
	return s.lastErr
}

// Close implements Sink.
func (s *Syslog) Close() error {
	if s.conn == nil {
		return nil
	}
	return s.conn.Close()
}

// format builds one message, framed for the transport.
func (s *Syslog) format(a Alert, now time.Time) []byte {
	pri := facilityAuth*8 + syslogSeverity(a.Severity)
	if s.network == "unixgram" {
		return fmt.Appendf(nil, "<%d>%s firewarden[%d]: %s", pri, now.Format(time.Stamp), s.pid, a.JSON)
	}
	host := s.hostname
	if host == "" {
		host = "-"
	}
	msgID := sanitizeHeader(a.Rule, 32)
	if msgID == "" {
		msgID = "-"
	}
	// RFC 5424 §6: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP
	// STRUCTURED-DATA SP MSG. TIMESTAMP has at most microseconds. MSG is UTF-8 JSON, sent
	// without a BOM, as most senders do.
	msg := fmt.Appendf(nil, "<%d>1 %s %s firewarden %d %s - %s", pri,
		now.Format("2006-01-02T15:04:05.000000Z07:00"), host, s.pid, msgID, a.JSON)
	if s.network == "tcp" {
		return append(strconv.AppendInt(nil, int64(len(msg)), 10), append([]byte{' '}, msg...)...)
	}
	return msg
}

// syslogSeverity maps an alert level to a syslog severity.
func syslogSeverity(level string) int {
	switch strings.ToLower(level) {
	case "critical":
		return 2 // crit
	case "high":
		return 3 // err
	case "medium":
		return 4 // warning
	case "low":
		return 5 // notice
	default:
		return 6 // info
	}
}

// sanitizeHeader makes s a valid RFC 5424 header field: printable US-ASCII without spaces, at
// most n bytes.
func sanitizeHeader(s string, n int) string {
	b := []byte(s)
	for i, c := range b {
		if c <= ' ' || c > '~' {
			b[i] = '_'
		}
	}
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

var _ Sink = (*Syslog)(nil)
