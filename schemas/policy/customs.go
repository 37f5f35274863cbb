package policy

import "strings"

// NeedsCustomsDeclaration reports whether a parcel despatched from Great
// Britain to the destination country (ISO 3166-1 alpha-2) and postcode needs
// a customs declaration, and so whether a courier may be sent the items'
// descriptions, values and tariff codes (condition customs). It needs one
// unless the destination is known to be inside the UK customs and VAT
// territory, which here means:
//
//   - Great Britain and Northern Ireland (GB; Northern Ireland's postcodes
//     begin BT): no declaration. Under the Windsor Framework a business's
//     parcel to a consumer in Northern Ireland needs no individual customs
//     declaration (gov.uk, "Sending parcels between Great Britain and
//     Northern Ireland"; Enterprise Nation, 20 Feb 2025: "For goods sent from
//     GB to consumers in Northern Ireland for personal use, there are no
//     individual customs declarations"). A parcel to a business in Northern
//     Ireland does need business data (UKIMS) that no order carries; the job
//     does not say whether the buyer is a business, so this rule cannot and
//     does not cover it.
//   - The Isle of Man (IM, or GB with an IM postcode): no declaration. By
//     the Customs and Excise Agreement 1979 it is treated as part of the UK
//     for customs, excise and VAT (gov.im, "International trade and the Isle
//     of Man"), and Royal Mail carries to it at inland rates.
//   - The Channel Islands (JE, GG, or GB with a JE or GY postcode, Alderney
//     and Sark included): a declaration. They are outside the UK VAT area,
//     and goods sent to them need a CN22/CN23 with electronic customs data
//     (gov.im, 9 Mar 2021: a declaration is mandatory "to any international
//     destination (including the Channel Islands)"; Jersey Post and Guernsey
//     Post require customs declarations for goods between the islands and
//     the UK). Marketplaces often file these addresses under GB, so the
//     postcode decides.
//   - Anywhere else, an unknown country included: a declaration.
//
// The postcode is the delivery label's (personal data): it is read, never
// kept or reported.
func NeedsCustomsDeclaration(country, postcode string) bool {
	switch area := postcodeArea(postcode); strings.ToUpper(strings.TrimSpace(country)) {
	case "GB", "UK":
		return area == "JE" || area == "GY"
	case "IM":
		return false
	default:
		return true
	}
}

// postcodeArea returns a UK postcode's area, its leading letters upper-cased
// ("je2 3ab" -> "JE").
func postcodeArea(postcode string) string {
	p := strings.ToUpper(strings.TrimSpace(postcode))
	i := 0
	for i < len(p) && p[i] >= 'A' && p[i] <= 'Z' {
		i++
	}
	return p[:i]
}
