package route53

import "strings"

// Continent codes accepted by Route 53's GeoLocation.ContinentCode.
var continents = map[string]string{
	"AF": "Africa",
	"AN": "Antarctica",
	"AS": "Asia",
	"EU": "Europe",
	"NA": "North America",
	"OC": "Oceania",
	"SA": "South America",
}

// countriesByContinent lists every ISO 3166-1 alpha-2 code (all 249) and
// XK (Kosovo, which Route 53 accepts) under one continent, so a location
// given as a country also matches continent records. Where Route 53's own
// table (resource-record-sets-values-geo, "Location") departs from GeoNames
// it wins: TR and XK in EU, TL in OC (PROTOCOL.md §7.7). The rest follow
// GeoNames: RU and CY in EU; GE, AM, AZ and KZ in AS; EG in AF; PA in NA;
// the remote islands IO, CC and CX in AS; BV, GS, HM and TF in AN.
var countriesByContinent = map[string]string{
	"AF": "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW " +
		"KE KM LR LS LY MA MG ML MR MU MW MZ NA NE NG RE RW SC SD SH SL SN SO SS " +
		"ST SZ TD TG TN TZ UG YT ZA ZM ZW",
	"AN": "AQ BV GS HM TF",
	"AS": "AE AF AM AZ BD BH BN BT CC CN CX GE HK ID IL IN IO IQ IR JO JP KG KH " +
		"KP KR KW KZ LA LB LK MM MN MO MV MY NP OM PH PK PS QA SA SG SY TH TJ " +
		"TM TW UZ VN YE",
	"EU": "AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR " +
		"HU IE IM IS IT JE LI LT LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI " +
		"SJ SK SM TR UA VA XK",
	"NA": "AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN " +
		"KY LC MF MQ MS MX NI PA PM PR SV SX TC TT US VC VG VI",
	"OC": "AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TL TO TV " +
		"UM VU WF WS",
	"SA": "AR BO BR CL CO EC FK GF GY PE PY SR UY VE",
}

// countryContinent maps an ISO 3166-1 alpha-2 code to its continent code.
var countryContinent = func() map[string]string {
	m := make(map[string]string, 250)
	for cont, list := range countriesByContinent {
		for _, cc := range strings.Fields(list) {
			m[cc] = cont
		}
	}
	return m
}()

// noGeoCountries are the countries Route 53 refuses geolocation records for,
// because it has no IP data for them.
var noGeoCountries = map[string]bool{"BV": true, "CX": true, "EH": true, "HM": true}

// usSubdivisions are the SubdivisionCode values Route 53 lists for US (the
// 50 states and DC, USPS abbreviations). Territories such as PR and GU are
// countries of their own in ISO 3166-1.
var usSubdivisions = func() map[string]bool {
	m := make(map[string]bool, 51)
	for _, s := range strings.Fields("AK AL AR AZ CA CO CT DC DE FL GA HI IA ID IL IN " +
		"KS KY LA MA MD ME MI MN MO MS MT NC ND NE NH NJ NM NV NY OH OK OR PA RI " +
		"SC SD TN TX UT VA VT WA WI WV WY") {
		m[s] = true
	}
	return m
}()
