package dist_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/torch/dist"
	"github.com/prsmed/prsmed-go/torch/dist/disttest"
)

func TestFromEnv(t *testing.T) {
	full := map[string]string{"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "MASTER_ADDR": "10.0.0.2", "MASTER_PORT": "29501"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range full {
			m[a] = b
		}
		if v == "<unset>" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name    string
		vars    map[string]string
		want    dist.Env
		errHas  string // empty: no error
		errKind error
	}{
		{"full", full, dist.Env{Rank: 1, WorldSize: 4, LocalRank: 1, MasterAddr: "10.0.0.2", MasterPort: 29501}, "", nil},
		{"none set", map[string]string{}, dist.Env{Rank: 0, WorldSize: 1, MasterAddr: "127.0.0.1", MasterPort: 0}, "", nil},
		{"local rank defaults to rank", with("LOCAL_RANK", "<unset>"), dist.Env{Rank: 1, WorldSize: 4, LocalRank: 1, MasterAddr: "10.0.0.2", MasterPort: 29501}, "", nil},
		{"missing port", with("MASTER_PORT", "<unset>"), dist.Env{}, "MASTER_PORT not set", dist.ErrConfig},
		{"rank not a number", with("RANK", "one"), dist.Env{}, `RANK="one" is not an integer`, dist.ErrConfig},
		{"rank too large", with("RANK", "4"), dist.Env{}, "RANK=4 is out of range [0, 3]", dist.ErrConfig},
		{"negative rank", with("RANK", "-1"), dist.Env{}, "RANK=-1 is out of range", dist.ErrConfig},
		{"zero world", with("WORLD_SIZE", "0"), dist.Env{}, "WORLD_SIZE=0 is out of range", dist.ErrConfig},
		{"port too large", with("MASTER_PORT", "70000"), dist.Env{}, "MASTER_PORT=70000 is out of range", dist.ErrConfig},
		{"port zero", with("MASTER_PORT", "0"), dist.Env{}, "MASTER_PORT=0 is out of range", dist.ErrConfig},
		{"bad local rank", with("LOCAL_RANK", "x"), dist.Env{}, `LOCAL_RANK="x"`, dist.ErrConfig},
		{"bad address", with("MASTER_ADDR", "a b"), dist.Env{}, "MASTER_ADDR", dist.ErrConfig},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range []string{"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"} {
				t.Setenv(k, "")
			}
			for k, v := range c.vars {
				t.Setenv(k, v)
			}
			got, err := dist.FromEnv()
			if c.errHas == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got != c.want {
					t.Fatalf("got %+v, want %+v", got, c.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.errHas) || !errors.Is(err, c.errKind) {
				t.Fatalf("error %v, want one containing %q matching %v", err, c.errHas, c.errKind)
			}
		})
	}
}

func TestPortBusy(t *testing.T) {
	needGloo(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	start := time.Now()
	_, err = dist.Init(context.Background(), dist.Config{
		Env:     dist.Env{Rank: 0, WorldSize: 2, MasterAddr: "127.0.0.1", MasterPort: port},
		Timeout: 20 * time.Second,
	})
	t.Logf("%v (after %v)", err, time.Since(start))
	if !errors.Is(err, dist.ErrPortBusy) || !strings.Contains(err.Error(), "127.0.0.1:"+strconv.Itoa(port)) ||
		!strings.Contains(err.Error(), "MASTER_PORT") {
		t.Fatalf("error %v, want ErrPortBusy naming MASTER_PORT %d", err, port)
	}
}

func TestWrongPort(t *testing.T) {
	needGloo(t)
	port := disttest.FreePort(t) // nothing listens there
	start := time.Now()
	_, err := dist.Init(context.Background(), dist.Config{
		Env:     dist.Env{Rank: 1, WorldSize: 2, MasterAddr: "127.0.0.1", MasterPort: port},
		Timeout: 2 * time.Second,
	})
	took := time.Since(start)
	t.Logf("%v (after %v)", err, took)
	if !errors.Is(err, dist.ErrTimeout) || !strings.Contains(err.Error(), "MASTER_PORT") {
		t.Fatalf("error %v, want ErrTimeout naming MASTER_PORT", err)
	}
	var de *dist.Error
	if !errors.As(err, &de) || len(de.Peers) != 1 || de.Peers[0] != 0 {
		t.Fatalf("error %v does not name rank 0", err)
	}
	if took > time.Minute {
		t.Fatalf("took %v with a 2 s timeout", took)
	}
}

func TestInitBadConfig(t *testing.T) {
	cases := []dist.Env{
		{Rank: 2, WorldSize: 2, MasterAddr: "127.0.0.1", MasterPort: 29500},
		{Rank: 0, WorldSize: 0, MasterAddr: "127.0.0.1", MasterPort: 29500},
		{Rank: 0, WorldSize: 2, MasterAddr: "127.0.0.1", MasterPort: 0},
		{Rank: 0, WorldSize: 2, MasterAddr: "", MasterPort: 29500},
	}
	for _, e := range cases {
		if _, err := dist.Init(context.Background(), dist.Config{Env: e, Timeout: time.Second}); !errors.Is(err, dist.ErrConfig) {
			t.Errorf("%+v: error %v, want ErrConfig", e, err)
		}
	}
}

// A world of one needs no peers: every collective is the identity (avg included).
func TestWorldOfOne(t *testing.T) {
	needGloo(t)
	g, err := dist.Init(context.Background(), dist.Config{
		Env:     dist.Env{Rank: 0, WorldSize: 1, MasterAddr: "127.0.0.1", MasterPort: 0}, // any free port
		Timeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.Barrier(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.Close()
	if err := g.Barrier(context.Background()); !errors.Is(err, dist.ErrClosed) {
		t.Fatalf("barrier on a closed group: %v, want ErrClosed", err)
	}
}
