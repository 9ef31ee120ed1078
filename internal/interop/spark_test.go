package interop

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/impalalb/impalalb/conn"
)

// sparkServer is Spark's Thrift server (HiveThriftServer2, from the pyspark
// package's jars) running on loopback with NOSASL, local[1], a small heap,
// and its warehouse, metastore and scratch directories in a temporary
// directory. README.md gives the same command for a shell.
type sparkServer struct {
	Addr string
	home string // SPARK_HOME
	dir  string
	port int
	// http serves HiveServer2 over HTTP (path cliservice, authentication
	// NONE: any Basic credentials) instead of the binary protocol.
	http bool

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	logf   *os.File
}

// sparkStartTimeout bounds one start of the JVM (about 25 s on 2 cores).
const sparkStartTimeout = 3 * time.Minute

// sparkHome is the pyspark package's folder in the venv: its jars folder
// holds spark-hive-thriftserver.
func sparkHome(venvDir string) (string, error) {
	matches, _ := filepath.Glob(filepath.Join(venvDir, "lib", "python3*", "site-packages", "pyspark"))
	for _, m := range matches {
		jars, _ := filepath.Glob(filepath.Join(m, "jars", "spark-hive-thriftserver_*.jar"))
		if len(jars) > 0 {
			return m, nil
		}
	}
	return "", fmt.Errorf("interop: no pyspark with spark-hive-thriftserver jars in %s: run scripts/venv.sh", venvDir)
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// newSparkServer starts a server in dir on a free port, in HTTP mode with
// http.
func newSparkServer(venvDir, dir string, http bool) (*sparkServer, error) {
	home, err := sparkHome(venvDir)
	if err != nil {
		return nil, err
	}
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	s := &sparkServer{home: home, dir: dir, port: port, http: http, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	return s, s.start()
}

// sparkArgs is the spark-submit command line of a server in dir on port,
// in HTTP mode with http.
func sparkArgs(dir string, port int, http bool) []string {
	d := func(name string) string { return filepath.Join(dir, name) }
	hive := func(k, v string) []string { return []string{"--hiveconf", k + "=" + v} }
	conf := func(k, v string) []string { return []string{"--conf", k + "=" + v} }
	var a []string
	a = append(a, "--master", "local[1]", "--driver-memory", "512m",
		"--driver-java-options", "-Djava.io.tmpdir="+d("tmp"))
	a = append(a, conf("spark.ui.enabled", "false")...)
	a = append(a, conf("spark.sql.catalogImplementation", "in-memory")...)
	a = append(a, conf("spark.sql.warehouse.dir", d("warehouse"))...)
	a = append(a, conf("spark.driver.host", "127.0.0.1")...)
	a = append(a, conf("spark.driver.bindAddress", "127.0.0.1")...)
	a = append(a, conf("spark.sql.shuffle.partitions", "1")...)
	a = append(a, "--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2", "spark-internal")
	a = append(a, hive("hive.server2.thrift.bind.host", "127.0.0.1")...)
	if http {
		// In HTTP mode NOSASL answers 401 to a request without
		// credentials; NONE takes any Basic credentials.
		a = append(a, hive("hive.server2.thrift.http.port", strconv.Itoa(port))...)
		a = append(a, hive("hive.server2.transport.mode", "http")...)
		a = append(a, hive("hive.server2.thrift.http.path", "cliservice")...)
		a = append(a, hive("hive.server2.authentication", "NONE")...)
	} else {
		a = append(a, hive("hive.server2.thrift.port", strconv.Itoa(port))...)
		a = append(a, hive("hive.server2.transport.mode", "binary")...)
		a = append(a, hive("hive.server2.authentication", "NOSASL")...)
	}
	// GetOperationStatus waits up to this long for the statement to end
	// (5 s by default): short, so that a deadline usually falls between
	// two polls and conn cancels the statement on a live connection.
	a = append(a, hive("hive.server2.long.polling.timeout", "100ms")...)
	a = append(a, hive("hive.exec.local.scratchdir", d("scratch"))...)
	a = append(a, hive("hive.exec.scratchdir", d("hdfs-scratch"))...)
	a = append(a, hive("hive.server2.logging.operation.log.location", d("operation-logs"))...)
	a = append(a, hive("hive.querylog.location", d("querylog"))...)
	a = append(a, hive("hive.downloaded.resources.dir", d("resources"))...)
	return a
}

func (s *sparkServer) start() error {
	for _, sub := range []string{"tmp", "conf", "logs"} {
		if err := os.MkdirAll(filepath.Join(s.dir, sub), 0o755); err != nil {
			return err
		}
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(s.home, "bin", "spark-submit"), sparkArgs(s.dir, s.port, s.http)...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "SPARK_HOME="+s.home, "SPARK_LOCAL_IP=127.0.0.1",
		"SPARK_CONF_DIR="+filepath.Join(s.dir, "conf"), "SPARK_LOG_DIR="+filepath.Join(s.dir, "logs"))
	if os.Getenv("JAVA_HOME") == "" {
		if java, err := exec.LookPath("java"); err == nil {
			if real, err := filepath.EvalSymlinks(java); err == nil {
				cmd.Env = append(cmd.Env, "JAVA_HOME="+filepath.Dir(filepath.Dir(real)))
			}
		}
	}
	// Its own process group, so stop reaches the JVM; killed with the test
	// binary if that dies first (a panic or -timeout).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("interop: start spark-submit: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); pw.Close(); close(exited) }()
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		signalled := false
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if !signalled && (strings.Contains(sc.Text(), "HiveThriftServer2 started") || strings.Contains(sc.Text(), "Started ThriftHttpCLIService")) {
				signalled = true
				close(ready)
			}
		}
		_, _ = io.Copy(logf, pr)
	}()
	s.mu.Lock()
	s.cmd, s.exited, s.logf = cmd, exited, logf
	s.mu.Unlock()
	select {
	case <-ready:
	case <-exited:
		return fmt.Errorf("interop: spark thrift server exited while starting:\n%s", s.logTail())
	case <-time.After(sparkStartTimeout):
		s.stop()
		return fmt.Errorf("interop: spark thrift server not up after %v:\n%s", sparkStartTimeout, s.logTail())
	}
	// The log line comes when the listener is being opened; make sure it
	// accepts, for a bounded time.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", s.Addr)
		if err == nil {
			c.Close()
			return s.warmUp()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("interop: spark thrift server not accepting on %s: %w", s.Addr, err)
		case <-exited:
			return fmt.Errorf("interop: spark thrift server exited:\n%s", s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// warmUp runs one session through, so that the server initializes its
// embedded metastore (the first CloseSession does that, for seconds)
// before the tests time their calls.
func (s *sparkServer) warmUp() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := s.options()
	o.CancelTimeout = time.Minute
	sess, err := conn.Dial(ctx, s.Addr, o)
	if err != nil {
		return fmt.Errorf("interop: warm-up of %s: %w", s.Addr, err)
	}
	if _, _, _, err := queryAll(ctx, sess, "select count(*) from range(0, 10, 1, 1)"); err != nil {
		sess.Close()
		return fmt.Errorf("interop: warm-up of %s: %w", s.Addr, err)
	}
	if err := sess.Close(); err != nil {
		return fmt.Errorf("interop: warm-up of %s: %w", s.Addr, err)
	}
	return nil
}

// stop ends the server's process group (the JVM that spark-submit execs)
// and waits for it.
func (s *sparkServer) stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	s.logf.Close()
}

// restart stops the server and starts it again on the same port: every
// session it had is gone.
func (s *sparkServer) restart() error {
	s.stop()
	return s.start()
}

// logTail is the end of the server's log, for failure messages.
func (s *sparkServer) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// The two servers shared by the tests of this package, started on first
// use and stopped by TestMain.
var (
	sparkOnce    sync.Once
	sparkServers []*sparkServer
	sparkErr     error
	sparkRoot    string
)

// sparkPair returns two running Spark Thrift servers, or fails the test.
func sparkPair(t *testing.T) []*sparkServer {
	t.Helper()
	v := venv(t)
	sparkOnce.Do(func() {
		sparkRoot, sparkErr = os.MkdirTemp("", "interop-spark-")
		if sparkErr != nil {
			return
		}
		var wg sync.WaitGroup
		servers := make([]*sparkServer, 2)
		errs := make([]error, 2)
		for i := range servers {
			wg.Go(func() {
				servers[i], errs[i] = newSparkServer(v, filepath.Join(sparkRoot, fmt.Sprintf("s%d", i)), false)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				sparkErr = err
			}
			if servers[i] != nil {
				sparkServers = append(sparkServers, servers[i])
			}
		}
	})
	if sparkErr != nil {
		t.Fatal(sparkErr)
	}
	return sparkServers
}

func stopSpark() {
	for _, s := range append(sparkServers, sparkHTTPServer) {
		if s != nil {
			s.stop()
		}
	}
	if sparkHTTPRoot != "" {
		_ = os.RemoveAll(sparkHTTPRoot)
	}
	if sparkRoot != "" {
		_ = os.RemoveAll(sparkRoot)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopSpark()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}
