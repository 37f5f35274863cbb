package pictures

import (
	"image/color"
	"strconv"
	"strings"
)

// Palette is the colour of a panel's series, in order: Grafana's classic
// palette, so that the picture reads like the dashboard.
var Palette = []color.RGBA{
	rgb(0x7E, 0xB2, 0x6D), // green
	rgb(0xEA, 0xB8, 0x39), // yellow
	rgb(0x6E, 0xD0, 0xE0), // light blue
	rgb(0xEF, 0x84, 0x3C), // orange
	rgb(0xE2, 0x4D, 0x42), // red
	rgb(0x1F, 0x78, 0xC1), // blue
	rgb(0xBA, 0x43, 0xA9), // purple
	rgb(0x70, 0x5D, 0xA0), // violet
	rgb(0x50, 0x86, 0x42), // dark green
	rgb(0xCC, 0xA3, 0x00), // dark yellow
}

// Grafana's named colours that thresholds use (the base shades).
var namedColors = map[string]color.RGBA{
	"green":         rgb(0x73, 0xBF, 0x69),
	"dark-green":    rgb(0x37, 0x87, 0x2D),
	"red":           rgb(0xF2, 0x49, 0x5C),
	"dark-red":      rgb(0xC4, 0x16, 0x2A),
	"semi-dark-red": rgb(0xE0, 0x2F, 0x44),
	"yellow":        rgb(0xFA, 0xDE, 0x2A),
	"dark-yellow":   rgb(0xE0, 0xB4, 0x00),
	"orange":        rgb(0xFF, 0x98, 0x30),
	"dark-orange":   rgb(0xFA, 0x64, 0x00),
	"blue":          rgb(0x57, 0x94, 0xF2),
	"purple":        rgb(0xB8, 0x77, 0xD9),
	"text":          rgb(0x46, 0x46, 0x46),
}

// thresholdColor is a threshold step's colour: a Grafana name, #rrggbb, or
// grey for anything else (rgba(...), shades not listed).
func thresholdColor(s string) color.RGBA {
	if c, ok := namedColors[s]; ok {
		return c
	}
	if h, ok := strings.CutPrefix(s, "#"); ok && len(h) == 6 {
		if n, err := strconv.ParseUint(h, 16, 32); err == nil {
			return rgb(uint8(n>>16), uint8(n>>8), uint8(n))
		}
	}
	return rgb(0x80, 0x80, 0x80)
}

func rgb(r, g, b uint8) color.RGBA { return color.RGBA{R: r, G: g, B: b, A: 0xff} }

// axisUnit is how a panel's values are shown on its y axis: the label and
// the factor from the query's values to the axis'.
type axisUnit struct {
	label string
	scale float64
}

// unitFor turns a Grafana unit id into an axis label. Durations in seconds
// are shown in minutes, hours or days when the largest value (or threshold),
// peak, is at least two of them, as Grafana would; ratios (percentunit) as
// percentages. An unknown unit id is shown as it is.
func unitFor(unit string, peak float64) axisUnit {
	switch unit {
	case "", "none", "short":
		return axisUnit{"", 1}
	case "s":
		switch {
		case peak >= 2*86400:
			return axisUnit{"days", 1.0 / 86400}
		case peak >= 2*3600:
			return axisUnit{"hours", 1.0 / 3600}
		case peak >= 2*60:
			return axisUnit{"minutes", 1.0 / 60}
		}
		return axisUnit{"seconds", 1}
	case "ms":
		return axisUnit{"milliseconds", 1}
	case "percentunit":
		return axisUnit{"%", 100}
	case "percent":
		return axisUnit{"%", 1}
	case "ops":
		return axisUnit{"ops/s", 1}
	case "reqps":
		return axisUnit{"requests/s", 1}
	case "bytes", "decbytes":
		return axisUnit{"bytes", 1}
	case "currencyGBP":
		return axisUnit{"£", 1}
	case "currencyEUR":
		return axisUnit{"€", 1}
	case "currencyUSD":
		return axisUnit{"$", 1}
	}
	return axisUnit{unit, 1}
}
