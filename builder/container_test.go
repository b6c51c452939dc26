package builder

import (
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"

	dockerclient "github.com/moby/moby/client"
)

// frame is one chunk of the Docker API's multiplexed stream: stream 1 is
// stdout, 2 stderr.
func frame(stream byte, payload string) []byte {
	h := make([]byte, 8, 8+len(payload))
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], uint32(len(payload)))
	return append(h, payload...)
}

// The connection reads the exec's stdout alone, writes go to its stdin,
// and an exec that ends with a message on stderr ends reads with it.
func TestExecConn(t *testing.T) {
	ours, theirs := net.Pipe()
	conn := newExecConn(dockerclient.NewHijackedResponse(ours, ""))
	defer conn.Close()
	go func() {
		theirs.Write(frame(1, "hello "))
		theirs.Write(frame(2, "some log\n"))
		theirs.Write(frame(1, "world"))
		buf := make([]byte, 4)
		io.ReadFull(theirs, buf)
		theirs.Write(frame(1, string(buf)))
		theirs.Write(frame(2, "buildctl: connection refused"))
		theirs.Close()
	}()
	buf := make([]byte, len("hello world"))
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "hello world" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(conn)
	if string(rest) != "ping" || err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("after the exec ended: read %q, error %v; want the echo, then stderr as the error", rest, err)
	}
}
