module example.com/prsmed-downstream

go 1.26.0

require github.com/prsmed/prsmed-go v0.0.0

require golang.org/x/image v0.48.0 // indirect

replace github.com/prsmed/prsmed-go => ../
