package cli

import (
	"errors"

	"github.com/prsmed/prsmed-go/torch"
)

// SetUpTraining gives a training process its settings: threads intra-op threads
// (ResolveTrainingThreads of the -threads flag) and a C allocator that keeps freed host
// memory for the next step (torch.RetainHostMemory; nothing on a C library other than
// glibc).
func SetUpTraining(threads int) error {
	torch.SetNumThreads(ResolveTrainingThreads(threads))
	if err := torch.RetainHostMemory(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}
