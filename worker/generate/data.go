package generate

// Built-in lists the generator draws from. Every person, company and address here
// is invented; phone numbers are in Ofcom's ranges reserved for drama (020 7946
// 0xxx, 0113 496 0xxx, ..., 01632 960xxx, 07700 900xxx), email addresses are at
// example domains (RFC 2606) or Amazon's anonymised relay, and VAT numbers are
// random digits. Postcodes pair real outward codes with random inward codes.

// tenantNames are the first tenants' ids; further tenants are "tenant-NNN".
var tenantNames = []struct{ id, seller, prefix string }{
	{"acme-home", "acme_home_uk", "AH"},
	{"brightside-books", "brightside_books", "BB"},
	{"cobble-and-twine", "cobble_and_twine", "CT"},
	{"driftwood-outdoors", "driftwood_outdoors", "DO"},
	{"emberly-kitchen", "emberly_kitchen", "EK"},
	{"fernhill-garden", "fernhill_garden", "FG"},
	{"goldcrest-toys", "goldcrest_toys", "GT"},
	{"harbour-pets", "harbour_pets", "HP"},
}

// product is one catalogue entry. price is the UK price in pence, VAT included.
type product struct {
	title string
	code  string // the SKU's tail, after the tenant's prefix
	price int64
	vat   int64 // UK VAT rate in percent: 20, or 0 for books and children's clothes
}

// catalogue holds each tenant category's products (tenant i sells category i mod 8).
var catalogue = [][]product{
	{ // home
		{"Linen Tea Towel Set of 3, Sage Green, Stonewashed European Flax", "TT-SAGE-3", 1850, 20},
		{"Hand-poured Soy Wax Candle, Welsh Heather, 220g Amber Glass Jar", "CNDL-HEATHER-220", 1250, 20},
		{"Rattan Table Lamp with Linen Shade, 45 cm", "LAMP-RATTAN", 5400, 20},
		{"Chunky Knit Throw Blanket, Oatmeal, 130 x 170 cm", "THROW-KNIT-OAT", 3999, 20},
		{"Recycled Glass Tumbler, 300ml, Sea Green", "TUMBLER-300", 1299, 20},
		{"Velvet Cushion Cover 45 x 45 cm, Ochre", "CUSH-VEL-OCH", 1499, 20},
		{"Cast Iron Door Stop, Hare, Antique Finish", "DS-HARE-CI", 2100, 20},
		{"Vintage Brass Desk Lamp with Green Glass Shade, Bankers Style", "LAMP-BR-GRN", 3499, 20},
		{"LED Filament Bulb E27 4W Warm White 2700K Dimmable (Pack of 2)", "BULB-E27-4W", 649, 20},
		{"Stoneware Butter Dish with Oak Lid", "BD-STW-OAK", 1695, 20},
	},
	{ // books
		{"The Hedgerow Year: A Naturalist's Notebook (Hardback)", "HB-HEDGEROW", 1899, 0},
		{"Walking the Welsh Borders: 40 Circular Routes (Paperback)", "PB-BORDERS", 1299, 0},
		{"A Short History of the British Seaside (Paperback)", "PB-SEASIDE", 999, 0},
		{"Bread, Broth & Bakes: Recipes from a Northern Kitchen (Hardback)", "HB-BREAD", 2200, 0},
		{"Stargazing for Beginners: The Northern Sky Month by Month", "PB-STARS", 1450, 0},
		{"The Lighthouse Keeper's Daughter: A Novel (Paperback)", "PB-LIGHTHOUSE", 899, 0},
		{"Leather Bookmark with Brass Owl Charm", "BMK-OWL", 899, 20},
		{"Oak Bookends, Pair, Hand-Finished", "BKE-OAK-PR", 3200, 20},
	},
	{ // crafts
		{"Merino Wool Yarn Bundle, 5 x 50g, Autumn Shades", "YARN-MER-AUT", 2450, 20},
		{"Bamboo Knitting Needle Set, 18 Pairs with Case", "NDL-BAMBOO-18", 1899, 20},
		{"Embroidery Starter Kit, Wildflowers, 20 cm Hoop", "EMB-KIT-WILD", 1650, 20},
		{"Watercolour Paint Set, 24 Half Pans with Travel Brush", "WC-24-TRAVEL", 2299, 20},
		{"Linocut Printing Kit with 4 Cutters and Roller", "LINO-KIT-4", 2750, 20},
		{"Hardback Sketchbook A5, 160 gsm Cream Paper", "SKB-A5-CRM", 899, 20},
		{"Beeswax Food Wraps, Assorted Prints (Set of 3)", "BWX-WRAP-3", 1299, 20},
		{"Macramé Cotton Cord 4 mm x 100 m, Natural", "MAC-CORD-4", 1150, 20},
	},
	{ // outdoors
		{"Stainless Steel Water Bottle 750ml, Midnight Blue", "BOTTLE-750-MID", 1799, 20},
		{"Waterproof Walking Jacket, Men's, Forest Green, Size L", "JKT-WP-FOR-L", 8999, 20},
		{"Merino Hiking Socks, 2 Pairs, Charcoal, UK 7-9", "SOCK-MER-2", 1800, 20},
		{"Lightweight Camping Stove with Piezo Ignition", "STOVE-PIEZO", 3450, 20},
		{"Insulated Flask 500ml, Slate Grey", "FLASK-500-SLT", 2199, 20},
		{"Trekking Poles, Carbon, Pair, Cork Grips", "POLE-CARB-PR", 6499, 20},
		{"Head Torch, 350 Lumen, Rechargeable", "TORCH-350", 2499, 20},
		{"Children's Waterproof Trousers, Navy, Age 6-7", "KID-TRS-NVY-6", 1699, 0},
	},
	{ // kitchen
		{"Bamboo Chopping Board, Large, with Juice Groove", "BOARD-BAMBOO-L", 3000, 20},
		{"Oak Serving Board with Handle, 45 cm, Oiled Finish", "BOARD-OAK-45", 4200, 20},
		{"Enamel Pie Dish 24cm Cream with Blue Rim", "ENM-PIE-24", 1200, 20},
		{"Cast Iron Skillet, 26 cm, Pre-seasoned", "SKIL-CI-26", 3499, 20},
		{"Café Crème Espresso Cups – Set of 4 (Porcelain, 90 ml)", "CUP-ESP-4", 1999, 20},
		{"Beeswax Food Wraps, Pack of 4, Assorted Sizes", "WRAP-BEES-4", 1200, 20},
		{"Stoneware Mixing Bowl, 3 Litre, Speckled Sage", "BOWL-STW-3L", 2650, 20},
		{"Loose Leaf Tea Infuser, Stainless Steel, with Drip Tray", "TEA-INF-SS", 799, 20},
	},
	{ // garden
		{"Galvanised Watering Can, 9 Litre, with Brass Rose", "CAN-GALV-9", 3899, 20},
		{"Hedgehog House, FSC Pine, Ready Assembled", "HOG-HOUSE", 3299, 20},
		{"Wildflower Seed Mix for Bees, 100 g", "SEED-BEE-100", 699, 20},
		{"Ash Handled Border Spade, Stainless Steel", "SPADE-ASH", 4499, 20},
		{"Solar Festoon Lights, 10 m, Warm White", "FEST-SOL-10", 2799, 20},
		{"Terracotta Pot Set of 3, 12/16/20 cm", "POT-TERRA-3", 1999, 20},
		{"Bird Feeder Station with 4 Hooks", "FEED-STN-4", 2899, 20},
		{"Leather Gardening Gloves, Women's, Medium", "GLOVE-LTH-M", 1450, 20},
	},
	{ // toys
		{"Wooden Rainbow Stacker, 7 Pieces, Water-based Paints", "RAINBOW-7", 2499, 20},
		{"Knitted Bunny Soft Toy, Oatmeal, 30 cm", "BUNNY-KNIT", 1899, 20},
		{"Magnetic Fishing Game, 10 Wooden Fish", "FISH-MAG-10", 1499, 20},
		{"Jigsaw Puzzle, British Coastline Map, 1000 Pieces", "JIG-COAST-1000", 2199, 20},
		{"Wooden Train Set with Bridge, 40 Pieces", "TRAIN-40", 4999, 20},
		{"Children's Rain Boots, Yellow, UK 10", "KID-BOOT-YLW-10", 1899, 0},
		{"Felt Finger Puppets, Woodland Animals, Set of 6", "PUPPET-WOOD-6", 1250, 20},
		{"Marble Run, 60 Pieces, Beech Wood", "MARBLE-60", 3999, 20},
	},
	{ // pets
		{"Orthopaedic Dog Bed, Large, Tweed Grey", "BED-DOG-L", 5999, 20},
		{"Leather Dog Collar, Tan, Medium, Brass Buckle", "COLLAR-TAN-M", 1899, 20},
		{"Cat Scratching Post with Sisal Rope, 60 cm", "SCRATCH-60", 2299, 20},
		{"Ceramic Pet Bowl, 1 Litre, Speckled Blue", "BOWL-PET-1L", 1499, 20},
		{"Dog Walking Treat Pouch with Clip", "POUCH-TREAT", 999, 20},
		{"Reflective Dog Harness, Small, Orange", "HARN-REF-S", 2150, 20},
		{"Catnip Mice Toys, Pack of 3", "CATNIP-3", 599, 20},
		{"Waterproof Dog Coat, Navy, 40 cm", "COAT-DOG-40", 2799, 20},
	},
}

// ukPlace is a town with its county, outward codes and a drama-range phone prefix.
type ukPlace struct {
	city, county, region string
	outward              []string
	phone                string // national format; each '#' is a random digit
}

var ukPlaces = []ukPlace{
	{"London", "", "England", []string{"N1", "E8", "SE15", "SW11", "NW5", "W12", "E17", "N16"}, "020 7946 0###"},
	{"Leeds", "West Yorkshire", "England", []string{"LS1", "LS3", "LS6", "LS8", "LS17"}, "0113 496 0###"},
	{"Sheffield", "South Yorkshire", "England", []string{"S1", "S7", "S10", "S11"}, "0114 496 0###"},
	{"Nottingham", "Nottinghamshire", "England", []string{"NG1", "NG5", "NG7", "NG9"}, "0115 496 0###"},
	{"Leicester", "Leicestershire", "England", []string{"LE1", "LE2", "LE3", "LE5"}, "0116 496 0###"},
	{"Bristol", "", "England", []string{"BS1", "BS3", "BS6", "BS7", "BS16"}, "0117 496 0###"},
	{"Reading", "Berkshire", "England", []string{"RG1", "RG2", "RG4", "RG6"}, "0118 496 0###"},
	{"Birmingham", "West Midlands", "England", []string{"B1", "B13", "B17", "B30"}, "0121 496 0###"},
	{"Edinburgh", "", "Scotland", []string{"EH1", "EH3", "EH6", "EH10"}, "0131 496 0###"},
	{"Glasgow", "", "Scotland", []string{"G1", "G3", "G12", "G41"}, "0141 496 0###"},
	{"Liverpool", "Merseyside", "England", []string{"L1", "L8", "L15", "L17"}, "0151 496 0###"},
	{"Manchester", "Greater Manchester", "England", []string{"M1", "M4", "M14", "M20"}, "0161 496 0###"},
	{"Cardiff", "", "Wales", []string{"CF10", "CF11", "CF14", "CF24"}, "029 2018 0###"},
	{"Belfast", "County Antrim", "Northern Ireland", []string{"BT1", "BT7", "BT9"}, "028 9649 6###"},
	{"Harrogate", "North Yorkshire", "England", []string{"HG1", "HG2"}, "01632 960###"},
	{"Penzance", "Cornwall", "England", []string{"TR18"}, "01632 960###"},
	{"Betws-y-Coed", "Conwy", "Wales", []string{"LL24"}, "01632 960###"},
	{"Inverness", "Highland", "Scotland", []string{"IV1", "IV2", "IV3"}, "01632 960###"},
	{"Ludlow", "Shropshire", "England", []string{"SY8"}, "01632 960###"},
	{"Norwich", "Norfolk", "England", []string{"NR1", "NR2", "NR4"}, "01632 960###"},
	{"York", "North Yorkshire", "England", []string{"YO1", "YO10", "YO31"}, "01632 960###"},
	{"Bath", "Somerset", "England", []string{"BA1", "BA2"}, "01632 960###"},
	{"Exeter", "Devon", "England", []string{"EX1", "EX2", "EX4"}, "01632 960###"},
	{"Cambridge", "Cambridgeshire", "England", []string{"CB1", "CB2", "CB4"}, "01632 960###"},
	{"Brighton", "East Sussex", "England", []string{"BN1", "BN2", "BN3"}, "01632 960###"},
	{"Newcastle upon Tyne", "Tyne and Wear", "England", []string{"NE1", "NE2", "NE6"}, "01632 960###"},
	{"Llanfairpwllgwyngyll", "Ynys Môn", "Wales", []string{"LL61"}, "01632 960###"},
	{"Port Rìgh", "An t-Eilean Sgitheanach", "Scotland", []string{"IV51"}, "01632 960###"},
}

var ukStreets = []string{
	"Valley Drive", "Church Walk", "Kirkstall Road", "Morrab Road", "High Street", "Station Road",
	"Mill Lane", "Victoria Road", "Park Avenue", "Queen Street", "Orchard Close", "Chapel Lane",
	"Meadow View", "The Green", "Albert Terrace", "Westgate", "Heol yr Eglwys", "Ffordd Caergybi",
	"Sràid na h-Eaglaise", "Castle Wynd", "Brunswick Square", "Reading Room Yard", "Back Hill",
	"St Mary's Row", "Windermere Crescent",
}

// ukMobile is the drama range of mobile numbers.
const ukMobile = "07700 900###"

// ukLine2 are second address lines; ukHouseNames stand instead of a number.
var (
	ukLine2      = []string{"Flat 3", "Flat 12", "Apartment 7", "Flat 2A", "Ground Floor Flat", "Unit 4", "Top Floor", "Rear Entrance"}
	ukHouseNames = []string{"Tŷ Gwyn", "Rose Cottage", "Mill House", "The Old Forge", "Penrhos", "Bramble Lodge", "Glebe Farm"}
)

var ukFirstNames = []string{
	"Margaret", "Rowan", "Tomasz", "Harriet", "Gwenllian", "Eilidh", "Zoë", "Siobhán", "Màiri", "Fenella",
	"Oliver", "Amelia", "George", "Isla", "Arthur", "Ava", "Noah", "Freya", "Mohammed", "Priya",
	"Oluwaseun", "Aisha", "James", "Charlotte", "Rhys", "Niamh", "Callum", "Sophie", "Dafydd", "Ruth",
	"Kwame", "Mei", "Hamish", "Bethan", "Samuel", "Imogen", "Declan", "Ffion", "Arjun", "Eleanor",
}

var ukSurnames = []string{
	"Ellison", "Tremayne", "Nowak", "Okafor", "Brontë", "Ó Dónaill", "Prys", "Patel", "Khan", "Williams",
	"Jones", "Smith", "Taylor", "Brown", "Evans", "Thomas", "Roberts", "Walker", "Wright", "Hughes",
	"Green", "Hall", "MacLeod", "Campbell", "O'Neill", "Mhoireach", "Quinn", "Moss", "Reed", "Adeyemi",
	"Chen", "Fraser", "Llwyd", "Kowalski", "Sharma", "Armstrong", "Pemberton", "Davies", "Singh", "Ashworth",
}

var usernameWords = [][]string{
	{"hollyhock", "marlow", "pip", "fen", "rowan", "bramble", "thistle", "heron", "wren", "larch", "moss", "juniper", "cobalt", "saffron"},
	{"finds", "reads", "makes", "moss", "reed", "home", "trader", "collects", "bargains", "and_co", "lane", "nest"},
}

var emailDomains = []string{"example.com", "example.co.uk", "example.org", "example.net"}

var ukCompanies = []string{
	"Hollin & Vale Ltd", "Brackenfield Interiors Ltd", "Northgate Dental Practice", "Tarn Valley Veterinary Surgery",
	"Calder Office Supplies Ltd", "Greenway Primary School", "Bryn Mawr Holiday Cottages", "Harbourside Café Ltd",
}

// euRegion is an EU destination: its marketplace country and invented people.
type euRegion struct {
	country     string // ISO 3166-1 alpha-2
	firstNames  []string
	surnames    []string
	streets     []string
	places      []euPlace
	companies   []string
	phone       string // international format; each '#' is a random digit
	streetFirst bool   // "Königstraße 12" rather than "12 rue de la Paix"
}

type euPlace struct {
	city, region, postcode string // postcode: a prefix that random characters complete
}

var euRegions = map[string]*euRegion{
	"DE": {
		country:    "DE",
		firstNames: []string{"Jürgen", "Anja", "Lukas", "Sophie", "Jonas", "Katharina", "Maximilian", "Lea"},
		surnames:   []string{"Weiß", "Schröder", "Becker", "Müller", "Fischer", "Wagner", "Hoffmann", "Schäfer"},
		streets:    []string{"Königstraße", "Friedrichstraße", "Hauptstraße", "Lindenallee", "Bahnhofstraße", "Gartenweg"},
		places: []euPlace{
			{"Stuttgart", "Baden-Württemberg", "701"}, {"Berlin", "Berlin", "101"}, {"München", "Bayern", "803"},
			{"Hamburg", "Hamburg", "200"}, {"Köln", "Nordrhein-Westfalen", "506"},
		},
		companies:   []string{"Müller & Söhne Büroausstattung GmbH", "Schröder Hausverwaltung GmbH & Co. KG", "Becker Gartenbau GmbH"},
		phone:       "+49 30 #### ####",
		streetFirst: true,
	},
	"FR": {
		country:    "FR",
		firstNames: []string{"Camille", "Léa", "Hugo", "Chloé", "Julien", "Manon", "Théo", "Inès"},
		surnames:   []string{"Dubois", "Martin", "Bernard", "Lefèvre", "Moreau", "Girard", "Rousseau", "Fontaine"},
		streets:    []string{"rue de la République", "avenue Jean Jaurès", "rue des Lilas", "boulevard Voltaire", "place du Marché"},
		places: []euPlace{
			{"Lyon", "Auvergne-Rhône-Alpes", "6900"}, {"Paris", "Île-de-France", "7501"}, {"Bordeaux", "Nouvelle-Aquitaine", "3300"},
			{"Nantes", "Pays de la Loire", "4400"},
		},
		companies: []string{"Atelier Rousseau SARL", "Librairie du Marché SAS", "Fontaine & Fils SARL"},
		phone:     "+33 4 72 ## ## ##",
	},
	"IE": {
		country:    "IE",
		firstNames: []string{"Aoife", "Ciarán", "Niamh", "Seán", "Róisín", "Oisín", "Saoirse", "Pádraig"},
		surnames:   []string{"Byrne", "Walsh", "O'Sullivan", "Kelly", "Ní Bhriain", "Murphy", "Doyle", "Ó Súilleabháin"},
		streets:    []string{"Grafton Street", "Main Street", "Church Road", "Strand Road", "Patrick Street"},
		places: []euPlace{
			{"Dublin", "Co. Dublin", "D02 "}, {"Cork", "Co. Cork", "T12 "}, {"Galway", "Co. Galway", "H91 "},
		},
		companies: []string{"Byrne & Walsh Solicitors", "Harbour View B&B Ltd", "Kelly's Hardware Ltd"},
		phone:     "+353 1 ### ####",
	},
}

// marketplace is where an order was placed.
type marketplace struct {
	amazonID, amazonName, amazonDomain string // amazonDomain: the buyer relay address's domain
	ebayID                             string
	currency                           string
	country                            string
	vat                                int64 // standard VAT rate in percent, for EU prices
	region                             *euRegion
	shipLevel                          string // v0 ShipServiceLevel for standard delivery
}

var (
	mktUK = &marketplace{amazonID: "A1F83G8C2ARO7P", amazonName: "Amazon.co.uk", amazonDomain: "marketplace.amazon.co.uk",
		ebayID: "EBAY_GB", currency: "GBP", country: "GB", vat: 20, shipLevel: "Std UK Dom_1"}
	mktDE = &marketplace{amazonID: "A1PA6795UKMFR9", amazonName: "Amazon.de", amazonDomain: "marketplace.amazon.de",
		ebayID: "EBAY_DE", currency: "EUR", country: "DE", vat: 19, region: euRegions["DE"], shipLevel: "Std DE Dom_1"}
	mktFR = &marketplace{amazonID: "A13V1IB3VIYZZH", amazonName: "Amazon.fr", amazonDomain: "marketplace.amazon.fr",
		ebayID: "EBAY_FR", currency: "EUR", country: "FR", vat: 20, region: euRegions["FR"], shipLevel: "Std FR Dom_1"}
	mktIE = &marketplace{amazonID: "A28R8C7NBKEWEA", amazonName: "Amazon.ie", amazonDomain: "marketplace.amazon.ie",
		ebayID: "EBAY_IE", currency: "EUR", country: "IE", vat: 23, region: euRegions["IE"], shipLevel: "Std IE Dom_1"}
)

// giftMessages and checkoutNotes are what buyers type; a planted card number is
// appended to one.
var giftMessages = []string{
	"Happy birthday! Hope you love it. Lots of love, Mum x",
	"Nadolig Llawen! 🎄 Cariad mawr x",
	"Congratulations on the new house 🏡 from all of us at number nine",
	"Lá breithe sona! Keep cosy. Love from Zoë x",
	"Get well soon — thinking of you 💐",
	"Happy anniversary, here's to the next adventure ❤️",
	"For your first Christmas in Leeds. Don't open till the 25th!",
	"Thank you for looking after the cat. Diolch yn fawr!",
	"Well done on the exams! So proud of you 🎓",
	"A little something for the garden 🌱 Love, Gran",
}

var checkoutNotes = []string{
	"Please leave with the neighbour at no. 5 if we're out",
	"Side gate is unlocked, parcel box by the shed",
	"Could you wrap it as it's a present? Thanks!",
	"Please don't ring the bell, baby sleeping 👶",
	"Combined postage with my other order please",
	"Deliver to the back door — the front one sticks",
	"Is it possible to send it before Friday? It's for a birthday 🎂",
	"Please use plastic-free packaging if you can",
	"Leave in the blue recycling box by the porch",
	"Can you include a gift receipt? Cheers",
}

// cardLeadIns introduce a card number typed into free text.
var cardLeadIns = []string{
	"PS pay with my card ", "Card no ", "Use this card if payment fails: ", "My card is ", "Charge the balance to ",
}

var cancelReasons = []string{"Ordered by mistake", "Found a better price", "Delivery too slow", "Changed my mind", "Bought elsewhere"}

// ukServices are eBay UK shipping service codes with their carrier.
var ukServices = []struct{ carrier, code string }{
	{"Royal Mail", "UK_RoyalMailTracked48"},
	{"Royal Mail", "UK_RoyalMailSecondClassStandard"},
	{"Royal Mail", "UK_RoyalMailFirstClassStandard"},
	{"Parcelforce", "UK_Parcelforce48"},
	{"Evri", "UK_Hermes2DayTracked"},
	{"DPD", "UK_DPDNextDay"},
}

var euServices = []struct{ carrier, code string }{
	{"Royal Mail", "UK_RoyalMailInternationalTracked"},
	{"Parcelforce", "UK_ParcelforceGlobalPriority"},
}

// amazonPromotions are promotion ids as Amazon makes them: the seller's
// description and the creation time. The time's 17 digits (19 after "10%")
// form one run, which holds a Luhn-valid window more often than not: these
// times were chosen for runs that do not, as the protect stage would take one
// for a card number.
var amazonPromotions = []string{
	"UK Free Shipping 2026/10/01 09-00-00-077",
	"Autumn 20% Off 2026/10/14 10-00-01-318",
	"Buy 2 Save 10% 2026/09/02 08-00-00-001",
	"Lightning Deal 2026/11/20 07-00-00-040",
}

var ebayPromotions = []struct{ id, description string }{
	{"5126645012", "Buy 2, save 10%"},
	{"7788120045", "Seller coupon AUTUMN1"},
	{"6100455871", "20% off selected items"},
}
