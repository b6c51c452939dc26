package builder

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/moby/buildkit/client"
	"github.com/moby/moby/api/pkg/stdcopy"
	dockerclient "github.com/moby/moby/client"
)

// containerDriver is a buildx docker-container builder: a buildkitd in a
// container of a Docker Engine.
type containerDriver struct {
	engine    dockerclient.APIClient
	container string
	// load is the engine images are loaded into: the current Docker
	// context's, which need not be the one running the container.
	load dockerclient.APIClient
}

func (d *containerDriver) Client(ctx context.Context) (*client.Client, error) {
	return containerBuildKit(ctx, d.engine, d.container)
}

func (d *containerDriver) IsMobyDriver() bool             { return false }
func (d *containerDriver) Engine() dockerclient.APIClient { return d.load }

// containerBuildKit reaches the buildkitd of a buildx docker-container
// builder, as buildx does: each connection is "buildctl dial-stdio" run in
// the container through the Docker API's exec, its stdin and stdout the
// connection. A stopped container is started; a missing one is buildx's to
// create.
func containerBuildKit(ctx context.Context, engine dockerclient.APIClient, container string) (*client.Client, error) {
	res, err := engine.ContainerInspect(ctx, container, dockerclient.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("container %s (create it with \"docker buildx inspect --bootstrap\"): %w", container, err)
	}
	if st := res.Container.State; st == nil || !st.Running {
		if _, err := engine.ContainerStart(ctx, container, dockerclient.ContainerStartOptions{}); err != nil {
			return nil, fmt.Errorf("start container %s: %w", container, err)
		}
	}
	return client.New(ctx, "", client.WithContextDialer(func(context.Context, string) (net.Conn, error) {
		return dialStdio(ctx, engine, container)
	}))
}

// dialStdio runs "buildctl dial-stdio" in the container and returns its
// standard streams as a connection.
func dialStdio(ctx context.Context, engine dockerclient.APIClient, container string) (net.Conn, error) {
	exec, err := engine.ExecCreate(ctx, container, dockerclient.ExecCreateOptions{
		Cmd:          []string{"buildctl", "dial-stdio"},
		AttachStdin:  true,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return nil, fmt.Errorf("exec buildctl dial-stdio in %s: %w", container, err)
	}
	att, err := engine.ExecAttach(ctx, exec.ID, dockerclient.ExecAttachOptions{})
	if err != nil {
		return nil, fmt.Errorf("attach to buildctl dial-stdio in %s: %w", container, err)
	}
	return newExecConn(att.HijackedResponse), nil
}

// execConn is an exec's hijacked stream as a net.Conn. Without a TTY the
// Docker API multiplexes stdout and stderr on the stream: reads are the
// demultiplexed stdout; stderr is kept to explain an early end.
type execConn struct {
	net.Conn
	stdout *io.PipeReader
	close  sync.Once
}

func newExecConn(h dockerclient.HijackedResponse) *execConn {
	pr, pw := io.Pipe()
	go func() {
		var stderr bytes.Buffer
		_, err := stdcopy.StdCopy(pw, &limitedWriter{w: &stderr, n: 4096}, h.Reader)
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			err = fmt.Errorf("buildctl dial-stdio: %s", msg)
		}
		pw.CloseWithError(err)
	}()
	return &execConn{Conn: h.Conn, stdout: pr}
}

func (c *execConn) Read(p []byte) (int, error) { return c.stdout.Read(p) }

func (c *execConn) Close() error {
	var err error
	c.close.Do(func() {
		c.stdout.Close()
		err = c.Conn.Close()
	})
	return err
}

// limitedWriter keeps the first n bytes written and drops the rest.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
