package train

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
)

// Interrupted is the error Run returns when its context ends (Ctrl-C, a deadline): it says
// where the run stopped and what is on disk. errors.Is(err, context.Canceled) (or
// context.DeadlineExceeded) holds for it, and errors.Is reaches SaveErr too.
type Interrupted struct {
	Cause  error  // the context's error
	During string // what was running: "training" or "validation"
	Step   int    // optimisation steps done over the whole run
	// Saved is the checkpoint folder written at the interruption; "" when none was: during
	// validation (a step's checkpoint follows its validation), without OutDir, on ranks
	// other than 0, or when writing it failed (SaveErr).
	Saved   string
	SaveErr error
	// LastSaved is the step of the newest checkpoint this trainer wrote or resumed from
	// (checkpoint/, which -resume reads), -1 when there is none.
	LastSaved int
}

func (e *Interrupted) Error() string {
	what := fmt.Sprintf("interrupted during %s at step %d", e.During, e.Step)
	since := "nothing saved"
	if e.LastSaved >= 0 {
		since = fmt.Sprintf("nothing saved since step %d", e.LastSaved)
	}
	switch {
	case e.Saved != "":
		return fmt.Sprintf("train: %s; checkpoint saved to %s", what, e.Saved)
	case e.SaveErr != nil:
		return fmt.Sprintf("train: %s; saving the checkpoint failed (%v): %s", what, e.SaveErr, since)
	}
	return fmt.Sprintf("train: %s; %s", what, since)
}

// Unwrap gives the context's error and the save's.
func (e *Interrupted) Unwrap() []error {
	if e.SaveErr != nil {
		return []error{e.Cause, e.SaveErr}
	}
	return []error{e.Cause}
}

// interrupted is the error for a run whose context ended during what; with save it first
// writes the checkpoint of the step reached (rank 0, with OutDir).
func (t *Trainer) interrupted(ctx context.Context, during string, save bool) error {
	e := &Interrupted{Cause: ctx.Err(), During: during, Step: t.state.GlobalStep, LastSaved: t.savedStep}
	if save && t.Cfg.OutDir != "" && t.writer() {
		if e.SaveErr = t.Save(); e.SaveErr == nil {
			e.Saved, e.LastSaved = filepath.Join(t.Cfg.OutDir, "checkpoint"), t.state.GlobalStep
		}
	}
	return e
}

// asInterrupted turns an error that the context's end caused into an *Interrupted (saving
// nothing); other errors, and those that already are one, pass unchanged.
func (t *Trainer) asInterrupted(ctx context.Context, during string, err error) error {
	var in *Interrupted
	if err == nil || ctx.Err() == nil || errors.As(err, &in) {
		return err
	}
	return t.interrupted(ctx, during, false)
}
