package train

// ValShare is the number of samples this rank predicted in its last validation.
func (t *Trainer) ValShare() int { return t.valShare }
