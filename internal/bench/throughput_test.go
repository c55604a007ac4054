package bench

import (
	"testing"
	"time"
)

func TestBusiestSecondCountsTheFullestOneSecondWindow(t *testing.T) {
	at := func(ms ...int) []time.Time {
		base := time.Unix(1_700_000_000, 0)
		out := make([]time.Time, len(ms))
		for i, m := range ms {
			out[i] = base.Add(time.Duration(m) * time.Millisecond)
		}
		return out
	}
	cases := map[string]struct {
		times []time.Time
		want  int
	}{
		"none":                                 {nil, 0},
		"one":                                  {at(0), 1},
		"spread a second apart":                {at(0, 1000, 2000), 1},
		"a burst straddling two clock seconds": {at(900, 950, 1000, 1050, 1100), 5},
		"the window is half-open":              {at(0, 999, 1000), 2},
		"the fullest of several windows":       {at(0, 100, 1500, 1600, 1700, 1800, 3000), 4},
	}
	for name, c := range cases {
		if got := busiestSecond(c.times); got != c.want {
			t.Errorf("%s: %d, want %d", name, got, c.want)
		}
	}
}
