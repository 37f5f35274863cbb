package main

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// datasource is every panel's and variable's data source: the dashboard's
// own datasource variable, so that one file serves every environment.
var datasource = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// Grafana's unit ids, named.
const (
	unitSeconds   = "s"
	unitPerSecond = "ops"
	unitCount     = "short"
	unitRatio     = "percentunit"
	unitBytes     = "bytes"
	unitTimestamp = "dateTimeFromNow"
)

// query is one PromQL target: its expression and its legend.
func query(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Expr(expr).LegendFormat(legend).Range()
}

// threshold is a line drawn on a graph, or a colour change on a stat, from
// value up: amber is worth a look, red is what an alert pages for.
type threshold struct {
	value float64
	color string
}

func thresholds(steps ...threshold) *dashboard.ThresholdsConfigBuilder {
	all := []dashboard.Threshold{{Color: "green"}}
	for _, s := range steps {
		all = append(all, dashboard.Threshold{Value: cog.ToPtr(s.value), Color: s.color})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(all)
}

// atLeastOne is red at zero and green from one: for counts of processes.
func atLeastOne() *dashboard.ThresholdsConfigBuilder {
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).
		Steps([]dashboard.Threshold{{Color: "red"}, {Value: cog.ToPtr(1.0), Color: "green"}})
}

func amber(v float64) threshold { return threshold{v, "orange"} }
func red(v float64) threshold   { return threshold{v, "red"} }

// graph is a time series panel, half the dashboard's width; its description
// says what it shows and what to do when it looks wrong.
func graph(title, description, unit string, targets ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	p := timeseries.NewPanelBuilder().
		Title(title).Description(description).Unit(unit).Datasource(datasource).
		Span(12).Height(8).Min(0).FillOpacity(10).LineWidth(1).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeTable).Placement(common.LegendPlacementBottom).
			ShowLegend(true).Calcs([]string{"lastNotNull", "max"}))
	for i, t := range targets {
		p.WithTarget(t.RefId(string(rune('A' + i))))
	}
	return p
}

// withLimits draws the thresholds on the graph as dashed lines.
func withLimits(p *timeseries.PanelBuilder, steps ...threshold) *timeseries.PanelBuilder {
	return p.Thresholds(thresholds(steps...)).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed))
}

// single is a stat panel, a quarter of the dashboard's width, coloured by
// its thresholds.
func single(title, description, unit string, target *prometheus.DataqueryBuilder, steps ...threshold) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title(title).Description(description).Unit(unit).Datasource(datasource).
		Span(6).Height(4).Thresholds(thresholds(steps...)).
		ColorMode(common.BigValueColorModeBackground).GraphMode(common.BigValueGraphModeArea).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		WithTarget(target.RefId("A"))
}

// variables: the Prometheus data source, then label filters.
func datasourceVariable() *dashboard.DatasourceVariableBuilder {
	return dashboard.NewDatasourceVariableBuilder("datasource").Label("Prometheus").Type("prometheus")
}

// labelVariable is a multi-value filter on one label, "All" by default,
// whose values Prometheus lists from metric.
func labelVariable(name, label, metric string) *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder(name).Label(label).
		Query(dashboard.StringOrMap{String: cog.ToPtr("label_values(" + metric + ", " + name + ")")}).
		Datasource(datasource).
		Multi(true).IncludeAll(true).AllValue(".*").
		Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: cog.ToPtr("All")}, Value: dashboard.StringOrArrayOfString{String: cog.ToPtr("$__all")}}).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc)
}

// newDashboard is a dashboard with orderflow's common settings: UTC (the
// retention clock and the accounting periods are UTC), the last hour,
// refreshed every 30 s, linked to its siblings by tag.
func newDashboard(uid, title, description string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).Description(description).
		Tags([]string{"orderflow"}).
		Timezone("utc").Time("now-1h", "now").Refresh("30s").
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Link(dashboard.NewDashboardLinkBuilder("orderflow").Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"orderflow"}).AsDropdown(true).IncludeVars(true).KeepTime(true)).
		WithVariable(datasourceVariable())
}
