package dist

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Env is the launch settings of one process, as torchrun and cluster schedulers pass them.
type Env struct {
	Rank       int    // RANK: this process, 0 … WorldSize-1
	WorldSize  int    // WORLD_SIZE: the number of processes
	LocalRank  int    // LOCAL_RANK: this process on its machine (its GPU)
	MasterAddr string // MASTER_ADDR: the host of rank 0, which hosts the store
	MasterPort int    // MASTER_PORT: the store's port on MASTER_ADDR
}

// FromEnv reads RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT. When none of
// them is set it returns a single-process Env (rank 0 of 1 on 127.0.0.1, port 0: any free
// port, so that single-process runs on one machine never collide); when some
// are set they must all be, or FromEnv names the missing ones. LOCAL_RANK may be left out
// (it then equals RANK).
func FromEnv() (Env, error) { return envFrom(os.LookupEnv) }

func envFrom(look func(string) (string, bool)) (Env, error) {
	names := []string{"RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"}
	var missing []string
	set := 0
	for _, n := range names {
		if v, ok := look(n); ok && strings.TrimSpace(v) != "" {
			set++
		} else {
			missing = append(missing, n)
		}
	}
	if set == 0 {
		return Env{Rank: 0, WorldSize: 1, LocalRank: 0, MasterAddr: "127.0.0.1", MasterPort: 0}, nil
	}
	if len(missing) > 0 {
		return Env{}, fmt.Errorf("%w: %s not set (a distributed launch sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT)",
			ErrConfig, strings.Join(missing, ", "))
	}
	get := func(n string) string { v, _ := look(n); return strings.TrimSpace(v) }
	num := func(n string, lo, hi int) (int, error) {
		v, err := strconv.Atoi(get(n))
		if err != nil {
			return 0, fmt.Errorf("%w: %s=%q is not an integer", ErrConfig, n, get(n))
		}
		if v < lo || v > hi {
			return 0, fmt.Errorf("%w: %s=%d is out of range [%d, %d]", ErrConfig, n, v, lo, hi)
		}
		return v, nil
	}
	var e Env
	var err error
	if e.WorldSize, err = num("WORLD_SIZE", 1, 1<<20); err != nil {
		return Env{}, err
	}
	if e.Rank, err = num("RANK", 0, e.WorldSize-1); err != nil {
		return Env{}, fmt.Errorf("%w (WORLD_SIZE=%d)", err, e.WorldSize)
	}
	if e.MasterPort, err = num("MASTER_PORT", 1, 65535); err != nil {
		return Env{}, err
	}
	e.MasterAddr = get("MASTER_ADDR")
	if strings.ContainsAny(e.MasterAddr, " /") {
		return Env{}, fmt.Errorf("%w: MASTER_ADDR=%q is not a host name or address", ErrConfig, e.MasterAddr)
	}
	e.LocalRank = e.Rank
	if v, ok := look("LOCAL_RANK"); ok && strings.TrimSpace(v) != "" {
		if e.LocalRank, err = num("LOCAL_RANK", 0, 1<<20); err != nil {
			return Env{}, err
		}
	}
	return e, nil
}

// Validate checks an Env built by hand.
func (e Env) Validate() error {
	switch {
	case e.WorldSize < 1:
		return fmt.Errorf("%w: world size %d, need at least 1", ErrConfig, e.WorldSize)
	case e.Rank < 0 || e.Rank >= e.WorldSize:
		return fmt.Errorf("%w: rank %d is outside a world of %d", ErrConfig, e.Rank, e.WorldSize)
	case e.LocalRank < 0:
		return fmt.Errorf("%w: local rank %d is negative", ErrConfig, e.LocalRank)
	case e.MasterPort < 0 || e.MasterPort > 65535:
		return fmt.Errorf("%w: port %d is out of range", ErrConfig, e.MasterPort)
	case e.MasterPort == 0 && e.WorldSize > 1:
		return fmt.Errorf("%w: port 0 (any free port) only works for a world of 1", ErrConfig)
	case e.MasterAddr == "":
		return fmt.Errorf("%w: no master address", ErrConfig)
	}
	return nil
}
