package train

// ValShare is the number of samples this rank predicted in its last validation.
func (t *Trainer) ValShare() int { return t.valShare }

// OnBatch sets a function called after each step with the epoch, the step within it and
// this rank's sample indices.
func (t *Trainer) OnBatch(f func(epoch, step int, idx []int)) { t.onBatch = f }
