// Command loadtest sends a bounded load of POST /v1/segment requests to a PRS-Med server
// on this machine and reports requests/s, latency percentiles, errors, the batch sizes
// the server formed and, with -pid, the server's resident memory at given request counts.
// It refuses targets that are not loopback addresses.
//
//	go run ./examples/serve/loadtest -url http://127.0.0.1:8080 -c 8 -d 30s -image scan.png
//
// Exit status: 0 when every request succeeded, 1 when some failed or the run could not
// start, 2 for a usage error.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"maps"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prsmed/prsmed-go/examples/internal/cli"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Options are a load test's settings.
type Options struct {
	URL         string        // server base URL (loopback only)
	Concurrency int           // clients sending back to back
	Duration    time.Duration // run time limit
	MaxRequests int           // request limit (0: none besides Duration)
	Image       []byte        // the image every request sends
	Question    string
	Token       string // bearer token, if the server wants one
	Format      string // "json" or "png"
	PID         int    // server process whose RSS is read (0: none)
	RSSAt       []int  // completed-request counts at which the RSS is read
}

// Report is a load test's result.
type Report struct {
	Requests   int             `json:"requests"`
	Errors     int             `json:"errors"`
	Statuses   map[string]int  `json:"statuses"`
	Seconds    float64         `json:"seconds"`
	PerSecond  float64         `json:"requests_per_second"`
	P50MS      float64         `json:"p50_ms"`
	P90MS      float64         `json:"p90_ms"`
	P99MS      float64         `json:"p99_ms"`
	MaxMS      float64         `json:"max_ms"`
	MeanBatch  float64         `json:"mean_batch_size"`
	RSSMiB     map[int]float64 `json:"rss_mib,omitempty"`
	FirstError string          `json:"first_error,omitempty"`
}

// CheckLoopback refuses a URL whose host is not (or does not resolve only to) a loopback
// address.
func CheckLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-url %q: want http(s)://host:port", raw)
	}
	host := u.Hostname()
	ips, err := net.LookupIP(host)
	if err != nil {
		return fmt.Errorf("-url %q: %v", raw, err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("-url %q: %s is not a loopback address; load tests run against this machine only", raw, ip)
		}
	}
	return nil
}

// Run sends the load and reports it.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := CheckLoopback(o.URL); err != nil {
		return nil, err
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("question", o.Question)
	fw, err := mw.CreateFormFile("image", "image.png")
	if err != nil {
		return nil, err
	}
	fw.Write(o.Image)
	mw.Close()
	payload, ct := body.Bytes(), mw.FormDataContentType()
	target := strings.TrimSuffix(o.URL, "/") + "/v1/segment"
	if o.Format == "png" {
		target += "?format=png"
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Concurrency, MaxConnsPerHost: o.Concurrency}}
	defer client.CloseIdleConnections()

	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var (
		claimed, completed atomic.Int64
		mu                 sync.Mutex
		lat                []time.Duration
		statuses           = map[string]int{}
		batchSum           int
		firstErr           string
		rss                = map[int]float64{}
		wg                 sync.WaitGroup
	)
	start := time.Now()
	for range o.Concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				if o.MaxRequests > 0 && claimed.Add(1) > int64(o.MaxRequests) {
					return
				}
				req, _ := http.NewRequestWithContext(ctx, "POST", target, bytes.NewReader(payload))
				req.Header.Set("Content-Type", ct)
				if o.Token != "" {
					req.Header.Set("Authorization", "Bearer "+o.Token)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				status, batch := "", 0
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = strconv.Itoa(resp.StatusCode)
					batch, _ = strconv.Atoi(resp.Header.Get("X-Batch-Size"))
				}
				d := time.Since(t0)
				if ctx.Err() != nil && err != nil {
					return // cut off by the time limit: not counted
				}
				if err != nil {
					status = "transport"
				}
				mu.Lock()
				statuses[status]++
				if status == "200" {
					lat = append(lat, d)
					batchSum += batch
				} else if firstErr == "" {
					firstErr = fmt.Sprintf("%s %v", status, err)
				}
				mu.Unlock()
				n := int(completed.Add(1))
				if o.PID > 0 && slices.Contains(o.RSSAt, n) {
					if v, err := RSSMiB(o.PID); err == nil {
						mu.Lock()
						rss[n] = v
						mu.Unlock()
					}
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	r := &Report{Statuses: statuses, Seconds: elapsed.Seconds(), FirstError: firstErr}
	for s, n := range statuses {
		r.Requests += n
		if s != "200" {
			r.Errors += n
		}
	}
	r.PerSecond = float64(len(lat)) / elapsed.Seconds()
	if len(lat) > 0 {
		slices.Sort(lat)
		q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
		r.P50MS, r.P90MS, r.P99MS, r.MaxMS = q(0.5), q(0.9), q(0.99), q(1)
		r.MeanBatch = float64(batchSum) / float64(len(lat))
	}
	if len(rss) > 0 {
		r.RSSMiB = rss
	}
	return r, nil
}

// RSSMiB reads a process's resident set size from /proc.
func RSSMiB(pid int) (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, errors.New("no VmRSS line")
}

// syntheticPNG is a 64×64 grey image with a bright disc, used when -image is not given.
func syntheticPNG() []byte {
	img := image.NewGray(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			v := uint8(30 + x/2 + y/3)
			if (x-18)*(x-18)+(y-20)*(y-20) < 100 {
				v = 220
			}
			img.SetGray(x, y, color.Gray{v})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func run(args []string, stdout, stderr io.Writer) int {
	var o Options
	var imagePath, tokenFile, jsonOut string
	return cli.RunTool("loadtest", stderr, func(help io.Writer) error {
		var err error
		o, imagePath, tokenFile, jsonOut, err = parseFlags(args, help)
		return err
	}, func(ctx context.Context) (int, error) {
		return report(ctx, o, imagePath, tokenFile, jsonOut, stdout)
	})
}

// parseFlags parses and checks args; -h prints the usage to help and returns flag.ErrHelp.
func parseFlags(args []string, help io.Writer) (o Options, imagePath, tokenFile, jsonOut string, err error) {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var rssAt string
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:8080", "server base URL (loopback addresses only)")
	fs.IntVar(&o.Concurrency, "c", 8, "concurrent clients")
	fs.DurationVar(&o.Duration, "d", 30*time.Second, "run time limit")
	fs.IntVar(&o.MaxRequests, "n", 0, "request limit (0: only -d)")
	fs.StringVar(&imagePath, "image", "", "image to send (default: a synthetic 64×64 PNG)")
	fs.StringVar(&o.Question, "question", "Where is the tumour in this image?", "question to send")
	fs.StringVar(&tokenFile, "token-file", "", "file with the server's bearer token")
	fs.StringVar(&o.Format, "format", "json", "response format to ask for: json or png")
	fs.IntVar(&o.PID, "pid", 0, "server process id whose RSS to read (same machine)")
	fs.StringVar(&rssAt, "rss-at", "500,5000", "completed-request counts at which to read the RSS (with -pid)")
	fs.StringVar(&jsonOut, "json", "", "also write the report as JSON to this file")
	if err = fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(help, "Usage: loadtest [flags]\n\nSends POST /v1/segment requests to a server on this machine and reports\nthroughput, latency and errors.\n\nFlags:")
			fs.SetOutput(help)
			fs.PrintDefaults()
		}
		return
	}
	if fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
		return
	}
	if o.Concurrency < 1 || o.Duration <= 0 || o.MaxRequests < 0 || (o.Format != "json" && o.Format != "png") {
		err = errors.New("-c must be ≥ 1, -d > 0, -n ≥ 0 and -format json or png")
		return
	}
	for _, f := range strings.Split(rssAt, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			err = fmt.Errorf("-rss-at %q: want counts ≥ 1", rssAt)
			return o, "", "", "", err
		}
		o.RSSAt = append(o.RSSAt, n)
	}
	return o, imagePath, tokenFile, jsonOut, nil
}

// report runs the load test and prints its report; it returns 1 when a request failed or
// none completed.
func report(ctx context.Context, o Options, imagePath, tokenFile, jsonOut string, stdout io.Writer) (int, error) {
	o.Image = syntheticPNG()
	if imagePath != "" {
		b, err := os.ReadFile(imagePath)
		if err != nil {
			return cli.ExitFailed, err
		}
		o.Image = b
	}
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return cli.ExitFailed, err
		}
		o.Token = strings.TrimSpace(string(b))
	}
	r, err := Run(ctx, o)
	if err != nil {
		return cli.ExitFailed, err
	}
	fmt.Fprintf(stdout, "requests %d in %.1f s: %.2f requests/s, errors %d %v\n", r.Requests, r.Seconds, r.PerSecond, r.Errors, r.Statuses)
	fmt.Fprintf(stdout, "latency ms: p50 %.1f  p90 %.1f  p99 %.1f  max %.1f; mean batch size %.2f\n", r.P50MS, r.P90MS, r.P99MS, r.MaxMS, r.MeanBatch)
	for _, n := range slices.Sorted(maps.Keys(r.RSSMiB)) {
		fmt.Fprintf(stdout, "server RSS after %d requests: %.1f MiB\n", n, r.RSSMiB[n])
	}
	if r.FirstError != "" {
		fmt.Fprintf(stdout, "first error: %s\n", r.FirstError)
	}
	if jsonOut != "" {
		b, _ := json.MarshalIndent(r, "", "  ")
		if err := os.WriteFile(jsonOut, append(b, '\n'), 0o644); err != nil {
			return cli.ExitFailed, err
		}
	}
	if r.Errors > 0 || r.Requests == 0 {
		return cli.ExitFailed, nil
	}
	return cli.ExitOK, nil
}
