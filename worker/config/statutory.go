package config

import "slices"

// PlatformJurisdiction is the platform's own jurisdiction: its sellers are UK
// businesses, so HMRC's minimum applies to every financial record, whatever
// marketplace the order came through, and to records of no known
// jurisdiction (promise P8: at least 6 years).
const PlatformJurisdiction = "GB"

// StatutoryMinimum is the shortest time a jurisdiction's law lets a seller's
// financial records (invoices, the amounts and lines of each sale) be thrown
// away, and the instant it counts from.
type StatutoryMinimum struct {
	// Jurisdiction is the ISO 3166-1 alpha-2 code (GB, not UK).
	Jurisdiction string
	// Period is the minimum, added to the start below.
	Period Period
	// FromCalendarYearEnd says that the period runs from the end of the
	// calendar year in which the seller's financial year ends (§147(4) AO,
	// §132(1) BAO, BFL 7:2, ...), instead of from the end of the financial
	// year itself (HMRC, Code de commerce). For a 31 March year end that is
	// nine months later.
	FromCalendarYearEnd bool
	// Cite names the statute briefly, for error messages.
	Cite string
	// Source says what the statute requires and where to read it.
	Source string
}

// statutoryMinimums is the one table of minimum financial retention periods:
// config validation refuses a configured period below a row, and
// Retention.FinancialFor raises a jurisdiction's period to its row. Where a
// statute gives different periods for different records, the row takes the
// longest that a financial record (an order's invoice data, lines and
// amounts) can fall under, and the later start where the statute counts from
// "the last entry" (which closing entries can put after the year end).
var statutoryMinimums = []StatutoryMinimum{
	{"AT", Period{Years: 7}, true, "BAO §132",
		"Bundesabgabenordnung §132(1): books, records and their vouchers seven years, from the end of the calendar year " +
			"in which the (non-calendar) financial year ends; www.ris.bka.gv.at (BAO §132)"},
	{"DE", Period{Years: 10}, true, "AO §147, HGB §257",
		"Abgabenordnung §147(3) and Handelsgesetzbuch §257(4): books and records ten years (vouchers eight since 2025, " +
			"BEG IV), from the end of the calendar year of the last entry (§147(4) AO); www.gesetze-im-internet.de/ao_1977/__147.html"},
	{"ES", Period{Years: 6}, true, "Código de Comercio art. 30",
		"Código de Comercio art. 30.1: books, correspondence and vouchers six years from the last entry in the books; " +
			"www.boe.es (Real Decreto de 22 de agosto de 1885, art. 30)"},
	{"FR", Period{Years: 10}, false, "Code de commerce L123-22",
		"Code de commerce art. L123-22: accounting documents and vouchers are kept ten years (from the close of the " +
			"financial year); www.legifrance.gouv.fr/codes/article_lc/LEGIARTI000006219327"},
	{PlatformJurisdiction, Period{Years: 6}, false, "HMRC: FA 1998 Sch. 18 para. 21, VATA 1994 Sch. 11 para. 6",
		"HMRC: company records six years from the end of the last company financial year they relate to " +
			"(Finance Act 1998 Sch. 18 para. 21; www.gov.uk/running-a-limited-company/company-and-accounting-records), " +
			"VAT records six years (VAT Act 1994 Sch. 11 para. 6(3); www.gov.uk/vat-record-keeping). The Companies Act " +
			"2006 s.388(4) asks only three years of a private company (six of a public one), so HMRC's six years govern"},
	{"IE", Period{Years: 6}, false, "Companies Act 2014 s.285",
		"Companies Act 2014 s.285: six years after the end of the financial year containing the latest date the record " +
			"relates to (www.irishstatutebook.ie/eli/2014/act/38/section/285); Taxes Consolidation Act 1997 s.886(4) and " +
			"VAT Consolidation Act 2010 s.84: six years"},
	{"IT", Period{Years: 10}, true, "Codice civile art. 2220",
		"Codice civile art. 2220: accounting records ten years from the date of the last entry, invoices for the same " +
			"period; www.normattiva.it (R.D. 16 marzo 1942, n. 262, art. 2220)"},
	{"NL", Period{Years: 7}, false, "BW 2:10, AWR art. 52",
		"Burgerlijk Wetboek Boek 2 art. 10(3): books, records and data carriers seven years; Algemene wet inzake " +
			"rijksbelastingen art. 52(4): seven years; wetten.overheid.nl"},
	{"PL", Period{Years: 5}, true, "Ustawa o rachunkowości art. 74",
		"Ustawa o rachunkowości art. 74(2): account books five years, counted from the start of the year after the " +
			"financial year (art. 74(1)); isap.sejm.gov.pl (Dz.U. 1994 nr 121 poz. 591). Below the platform's six years, " +
			"which therefore apply"},
	{"SE", Period{Years: 7}, true, "Bokföringslagen 7:2",
		"Bokföringslagen (1999:1078) 7 kap. 2 §: accounting information until the end of the seventh year after the end " +
			"of the calendar year in which the financial year ended; www.riksdagen.se (SFS 1999:1078)"},
}

// StatutoryMinimums returns the table, by jurisdiction.
func StatutoryMinimums() []StatutoryMinimum { return slices.Clone(statutoryMinimums) }

// MinimumFor returns the statutory minimum that binds a jurisdiction's
// financial records: its own row, with the platform's (GB) period where that is
// longer, since HMRC binds every record of the platform's sellers. A
// jurisdiction without a row (or "") gets the platform's row.
func MinimumFor(jurisdiction string) StatutoryMinimum {
	platform := statutoryMinimums[slices.IndexFunc(statutoryMinimums, func(m StatutoryMinimum) bool {
		return m.Jurisdiction == PlatformJurisdiction
	})]
	i := slices.IndexFunc(statutoryMinimums, func(m StatutoryMinimum) bool { return m.Jurisdiction == jurisdiction })
	if i < 0 {
		return platform
	}
	m := statutoryMinimums[i]
	if !m.Period.AtLeast(platform.Period) {
		raised := "; raised to the platform's " + platform.Period.String() + " (" + platform.Cite + ")"
		m.Period = platform.Period
		m.Cite += raised
		m.Source += raised
	}
	return m
}
