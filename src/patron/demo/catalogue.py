"""Fixed reference data for the demo: regions, industries, products, names and phrases.

Pure data, no Django. Real place names with their telephone area codes and
administrative division codes, so addresses, phones and tax ids look right.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class City:
    code: str  # short code, unique only within its province
    zh: str
    en: str
    area_code: str  # telephone area code
    admin_code: str  # GB/T 2260 division code, the first digits of a tax id
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Province:
    code: str
    zh: str
    en: str
    team: str  # the sales team that covers it
    weight: float
    municipality: bool
    cities: tuple[City, ...]


def _c(code: str, zh: str, en: str, area: str, admin: str, weight: float = 1.0) -> City:
    return City(code, zh, en, area, admin, weight)


PROVINCES: tuple[Province, ...] = (
    Province(
        "BJ",
        "北京",
        "Beijing",
        "North",
        8,
        True,
        (
            _c("CY", "朝阳区", "Chaoyang", "010", "110105", 1.4),
            _c("HD", "海淀区", "Haidian", "010", "110108", 1.2),
            _c("DC", "东城区", "Dongcheng", "010", "110101", 0.6),
        ),
    ),
    Province(
        "TJ",
        "天津",
        "Tianjin",
        "North",
        3,
        True,
        (_c("HP", "和平区", "Heping", "022", "120101"), _c("BH", "滨海新区", "Binhai", "022", "120116", 1.3)),
    ),
    Province(
        "HE",
        "河北",
        "Hebei",
        "North",
        3,
        False,
        (_c("SJZ", "石家庄", "Shijiazhuang", "0311", "130100", 1.3), _c("TS", "唐山", "Tangshan", "0315", "130200")),
    ),
    Province(
        "LN",
        "辽宁",
        "Liaoning",
        "North",
        3,
        False,
        (_c("SY", "沈阳", "Shenyang", "024", "210100"), _c("DL", "大连", "Dalian", "0411", "210200")),
    ),
    Province(
        "SD",
        "山东",
        "Shandong",
        "North",
        7,
        False,
        (
            _c("JN", "济南", "Jinan", "0531", "370100"),
            _c("QD", "青岛", "Qingdao", "0532", "370200", 1.3),
            _c("YT", "烟台", "Yantai", "0535", "370600", 0.6),
        ),
    ),
    Province(
        "HA",
        "河南",
        "Henan",
        "North",
        4,
        False,
        (_c("ZZ", "郑州", "Zhengzhou", "0371", "410100", 1.6), _c("LY", "洛阳", "Luoyang", "0379", "410300")),
    ),
    Province(
        "SN",
        "陕西",
        "Shaanxi",
        "North",
        3,
        False,
        (_c("XA", "西安", "Xi'an", "029", "610100", 2.0), _c("BJ", "宝鸡", "Baoji", "0917", "610300")),
    ),
    Province(
        "SH",
        "上海",
        "Shanghai",
        "South",
        9,
        True,
        (
            _c("PD", "浦东新区", "Pudong", "021", "310115", 1.5),
            _c("XH", "徐汇区", "Xuhui", "021", "310104"),
            _c("JA", "静安区", "Jing'an", "021", "310106"),
        ),
    ),
    Province(
        "JS",
        "江苏",
        "Jiangsu",
        "South",
        11,
        False,
        (
            _c("NJ", "南京", "Nanjing", "025", "320100", 1.2),
            _c("SZ", "苏州", "Suzhou", "0512", "320500", 1.4),
            _c("WX", "无锡", "Wuxi", "0510", "320200"),
            _c("CZ", "常州", "Changzhou", "0519", "320400", 0.7),
        ),
    ),
    Province(
        "ZJ",
        "浙江",
        "Zhejiang",
        "South",
        11,
        False,
        (
            _c("HZ", "杭州", "Hangzhou", "0571", "330100", 1.6),
            _c("NB", "宁波", "Ningbo", "0574", "330200", 1.1),
            _c("WZ", "温州", "Wenzhou", "0577", "330300", 0.8),
            _c("JH", "金华", "Jinhua", "0579", "330700", 0.8),
        ),
    ),
    Province(
        "AH",
        "安徽",
        "Anhui",
        "South",
        3,
        False,
        (_c("HF", "合肥", "Hefei", "0551", "340100", 1.5), _c("WH", "芜湖", "Wuhu", "0553", "340200")),
    ),
    Province(
        "FJ",
        "福建",
        "Fujian",
        "South",
        5,
        False,
        (
            _c("FZ", "福州", "Fuzhou", "0591", "350100"),
            _c("XM", "厦门", "Xiamen", "0592", "350200", 1.2),
            _c("QZ", "泉州", "Quanzhou", "0595", "350500"),
        ),
    ),
    Province(
        "HB",
        "湖北",
        "Hubei",
        "South",
        4,
        False,
        (_c("WH", "武汉", "Wuhan", "027", "420100", 2.0), _c("YC", "宜昌", "Yichang", "0717", "420500")),
    ),
    Province(
        "HN",
        "湖南",
        "Hunan",
        "South",
        4,
        False,
        (_c("CS", "长沙", "Changsha", "0731", "430100", 2.0), _c("ZZ", "株洲", "Zhuzhou", "0731", "430200")),
    ),
    Province(
        "GD",
        "广东",
        "Guangdong",
        "South",
        14,
        False,
        (
            _c("GZ", "广州", "Guangzhou", "020", "440100", 1.5),
            _c("SZ", "深圳", "Shenzhen", "0755", "440300", 1.5),
            _c("DG", "东莞", "Dongguan", "0769", "441900"),
            _c("FS", "佛山", "Foshan", "0757", "440600"),
        ),
    ),
    Province(
        "CQ",
        "重庆",
        "Chongqing",
        "South",
        3,
        True,
        (_c("YZ", "渝中区", "Yuzhong", "023", "500103"), _c("JB", "江北区", "Jiangbei", "023", "500105")),
    ),
    Province(
        "SC",
        "四川",
        "Sichuan",
        "South",
        5,
        False,
        (_c("CD", "成都", "Chengdu", "028", "510100", 2.5), _c("MY", "绵阳", "Mianyang", "0816", "510700")),
    ),
    Province(
        "YN",
        "云南",
        "Yunnan",
        "South",
        2,
        False,
        (_c("KM", "昆明", "Kunming", "0871", "530100", 1.5), _c("PE", "普洱", "Pu'er", "0879", "530800")),
    ),
)


# code, Chinese, English, share of companies, spend factor, order frequency factor
@dataclass(frozen=True, slots=True)
class IndustryInfo:
    code: str
    zh: str
    en: str
    weight: float
    spend: float
    frequency: float
    suffixes: tuple[tuple[str, str], ...]  # company name part, English slug for web domains
    # affinity to top-level categories: TEA, COFFEE, SNACK, PACK, EQUIP
    affinity: tuple[float, float, float, float, float]


INDUSTRIES: tuple[IndustryInfo, ...] = (
    IndustryInfo(
        "RETAIL",
        "零售",
        "Retail",
        18,
        1.0,
        1.1,
        (("商贸", "shangmao"), ("超市", "mart"), ("百货", "baihuo"), ("便利店", "store")),
        (3, 2, 4, 1, 0.3),
    ),
    IndustryInfo(
        "RESTAURANT",
        "餐饮",
        "Restaurants",
        18,
        0.9,
        1.4,
        (("餐饮管理", "canyin"), ("餐饮", "food"), ("茶餐厅", "chacanting"), ("咖啡", "cafe")),
        (3, 2.5, 1, 3, 1),
    ),
    IndustryInfo(
        "MANUFACTURING",
        "制造",
        "Manufacturing",
        10,
        1.5,
        0.8,
        (("食品", "foods"), ("包装制品", "pack"), ("机械", "machinery"), ("实业", "industry")),
        (0.5, 0.5, 0.6, 5, 2),
    ),
    IndustryInfo(
        "WHOLESALE",
        "批发分销",
        "Wholesale",
        14,
        1.8,
        1.3,
        (("贸易", "trading"), ("商贸", "trade"), ("供应链", "supply"), ("食品批发", "pifa")),
        (3, 2, 3, 2, 0.5),
    ),
    IndustryInfo(
        "HEALTHCARE",
        "医疗",
        "Healthcare",
        6,
        0.7,
        0.8,
        (("医疗器械", "medical"), ("医药", "pharma"), ("健康管理", "health")),
        (1.5, 1, 1, 1, 0.4),
    ),
    IndustryInfo(
        "EDUCATION",
        "教育",
        "Education",
        6,
        0.6,
        0.7,
        (("教育科技", "edu"), ("培训学校", "school"), ("文化传播", "culture")),
        (1, 1, 2, 0.5, 0.4),
    ),
    IndustryInfo(
        "HOTEL",
        "酒店",
        "Hotels",
        8,
        1.3,
        1.0,
        (("酒店管理", "hotels"), ("酒店", "hotel"), ("度假村", "resort")),
        (3, 3, 2, 1.5, 1),
    ),
    IndustryInfo(
        "ECOMMERCE",
        "电商",
        "E-commerce",
        10,
        1.4,
        1.2,
        (("电子商务", "ecom"), ("网络科技", "tech"), ("贸易", "trade")),
        (2, 2, 3, 4, 0.2),
    ),
    IndustryInfo(
        "CONSTRUCTION",
        "建筑",
        "Construction",
        5,
        0.5,
        0.6,
        (("建设工程", "build"), ("建筑装饰", "deco"), ("建材", "jiancai")),
        (1.5, 1, 1, 0.5, 0.3),
    ),
    IndustryInfo(
        "LOGISTICS",
        "物流",
        "Logistics",
        5,
        0.9,
        1.0,
        (("物流", "logistics"), ("供应链管理", "scm"), ("速运", "express")),
        (0.5, 0.5, 0.5, 5, 0.4),
    ),
)
PERSON_AFFINITY: tuple[float, float, float, float, float] = (4, 3, 3, 0, 0.1)
TOP_CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("TEA", "茶叶", "Tea"),
    ("COFFEE", "咖啡", "Coffee"),
    ("SNACK", "零食", "Snacks"),
    ("PACK", "包装", "Packaging"),
    ("EQUIP", "设备", "Equipment"),
)

# subcategory code, parent, Chinese, English, gift (sells before festivals), cost ratio
SUBCATEGORIES: tuple[tuple[str, str, str, str, bool, float], ...] = (
    ("TEA-GREEN", "TEA", "绿茶", "Green tea", False, 0.52),
    ("TEA-OOLONG", "TEA", "乌龙茶", "Oolong tea", False, 0.50),
    ("TEA-PUER", "TEA", "普洱茶", "Pu'er tea", False, 0.45),
    ("TEA-BLACK", "TEA", "红茶", "Black tea", False, 0.50),
    ("TEA-BAG", "TEA", "袋泡茶", "Tea bags", False, 0.60),
    ("TEA-GIFT", "TEA", "茶叶礼盒", "Tea gift boxes", True, 0.48),
    ("COFFEE-BEAN", "COFFEE", "咖啡豆", "Coffee beans", False, 0.55),
    ("COFFEE-INSTANT", "COFFEE", "速溶咖啡", "Instant coffee", False, 0.62),
    ("COFFEE-CAPSULE", "COFFEE", "胶囊与挂耳", "Capsules and drip bags", False, 0.58),
    ("COFFEE-SYRUP", "COFFEE", "糖浆与奶精", "Syrups and creamers", False, 0.60),
    ("SNACK-NUT", "SNACK", "坚果炒货", "Nuts", False, 0.66),
    ("SNACK-BISCUIT", "SNACK", "饼干糕点", "Biscuits and pastries", False, 0.64),
    ("SNACK-DRIED", "SNACK", "果干蜜饯", "Dried fruit", False, 0.63),
    ("SNACK-GIFT", "SNACK", "零食礼盒", "Snack gift boxes", True, 0.58),
    ("PACK-CUP", "PACK", "纸杯杯盖", "Cups and lids", False, 0.72),
    ("PACK-TAKEAWAY", "PACK", "外卖餐盒", "Takeaway containers", False, 0.72),
    ("PACK-BOX", "PACK", "纸箱礼盒", "Cartons and gift boxes", False, 0.70),
    ("PACK-BAG", "PACK", "包装袋", "Bags and tape", False, 0.70),
    ("EQUIP-COFFEE", "EQUIP", "咖啡设备", "Coffee machines", False, 0.74),
    ("EQUIP-TEA", "EQUIP", "茶饮设备", "Tea equipment", False, 0.70),
    ("EQUIP-PARTS", "EQUIP", "配件耗材", "Parts and supplies", False, 0.60),
)

# subcategory: (name, unit, list price); variants below multiply them.
BASE_PRODUCTS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "TEA-GREEN": (
        ("西湖龙井", "盒", "368.00"),
        ("碧螺春", "盒", "268.00"),
        ("黄山毛峰", "盒", "198.00"),
        ("信阳毛尖", "盒", "168.00"),
        ("安吉白茶", "盒", "228.00"),
        ("六安瓜片", "盒", "188.00"),
    ),
    "TEA-OOLONG": (
        ("安溪铁观音", "盒", "198.00"),
        ("武夷大红袍", "盒", "288.00"),
        ("凤凰单丛", "盒", "238.00"),
        ("冻顶乌龙", "盒", "258.00"),
    ),
    "TEA-PUER": (
        ("普洱熟茶饼 357g", "饼", "168.00"),
        ("普洱生茶饼 357g", "饼", "238.00"),
        ("小青柑普洱", "罐", "128.00"),
        ("老班章古树生饼 357g", "饼", "980.00"),
    ),
    "TEA-BLACK": (
        ("正山小种", "盒", "168.00"),
        ("祁门红茶", "盒", "158.00"),
        ("滇红金芽", "盒", "188.00"),
        ("金骏眉", "盒", "398.00"),
    ),
    "TEA-BAG": (
        ("茉莉花茶袋泡 100包", "盒", "45.00"),
        ("绿茶袋泡 100包", "盒", "42.00"),
        ("红茶袋泡 100包", "盒", "48.00"),
        ("菊花茶袋泡 100包", "盒", "38.00"),
    ),
    "TEA-GIFT": (
        ("龙井茶礼盒", "盒", "598.00"),
        ("普洱茶礼盒", "盒", "688.00"),
        ("红茶礼盒", "盒", "458.00"),
        ("什锦名茶礼盒", "盒", "398.00"),
        ("高端商务茶礼", "盒", "1280.00"),
    ),
    "COFFEE-BEAN": (
        ("云南保山小粒咖啡豆", "袋", "158.00"),
        ("意式拼配咖啡豆", "袋", "138.00"),
        ("耶加雪菲咖啡豆", "袋", "268.00"),
        ("哥伦比亚咖啡豆", "袋", "218.00"),
        ("巴西咖啡豆", "袋", "148.00"),
    ),
    "COFFEE-INSTANT": (
        ("三合一速溶咖啡 100条", "盒", "89.00"),
        ("黑咖啡速溶 100条", "盒", "99.00"),
        ("冻干咖啡粉 500g", "罐", "168.00"),
    ),
    "COFFEE-CAPSULE": (
        ("浓缩咖啡胶囊 50粒", "盒", "150.00"),
        ("美式咖啡胶囊 50粒", "盒", "140.00"),
        ("拿铁咖啡胶囊 50粒", "盒", "160.00"),
        ("挂耳咖啡 50片", "盒", "99.00"),
        ("冷萃咖啡液 24瓶", "箱", "192.00"),
    ),
    "COFFEE-SYRUP": (
        ("咖啡伴侣 1kg", "袋", "45.00"),
        ("香草糖浆 750ml", "瓶", "68.00"),
        ("焦糖糖浆 750ml", "瓶", "68.00"),
        ("榛果糖浆 750ml", "瓶", "68.00"),
    ),
    "SNACK-NUT": (
        ("每日坚果 30袋", "盒", "129.00"),
        ("碧根果 500g", "袋", "58.00"),
        ("夏威夷果 500g", "袋", "62.00"),
        ("巴旦木 500g", "袋", "55.00"),
        ("开心果 500g", "袋", "78.00"),
        ("腰果 500g", "袋", "65.00"),
    ),
    "SNACK-BISCUIT": (
        ("苏打饼干", "箱", "96.00"),
        ("手工蛋卷", "盒", "88.00"),
        ("凤梨酥 20枚", "盒", "76.00"),
        ("绿豆糕 20枚", "盒", "48.00"),
        ("黄油曲奇", "罐", "68.00"),
    ),
    "SNACK-DRIED": (
        ("芒果干 500g", "袋", "45.00"),
        ("新疆葡萄干 500g", "袋", "32.00"),
        ("和田红枣 1kg", "袋", "58.00"),
        ("宁夏枸杞 500g", "袋", "68.00"),
    ),
    "SNACK-GIFT": (
        ("坚果礼盒", "盒", "198.00"),
        ("年货大礼包", "盒", "268.00"),
        ("中秋月饼礼盒", "盒", "238.00"),
        ("企业定制零食礼盒", "盒", "358.00"),
    ),
    "PACK-CUP": (
        ("8oz 纸杯 1000只", "箱", "120.00"),
        ("12oz 纸杯 1000只", "箱", "160.00"),
        ("16oz 纸杯 1000只", "箱", "190.00"),
        ("平盖杯盖 1000只", "箱", "80.00"),
        ("PLA 可降解吸管 1000支", "箱", "65.00"),
    ),
    "PACK-TAKEAWAY": (
        ("750ml 圆形餐盒 300套", "箱", "135.00"),
        ("1000ml 方形餐盒 300套", "箱", "168.00"),
        ("牛皮纸餐盒 500只", "箱", "220.00"),
        ("外卖打包袋 1000只", "箱", "95.00"),
    ),
    "PACK-BOX": (
        ("五层瓦楞纸箱 50只", "捆", "150.00"),
        ("茶叶包装盒 100只", "箱", "380.00"),
        ("手提礼品袋 100只", "箱", "160.00"),
        ("月饼包装盒 100只", "箱", "450.00"),
    ),
    "PACK-BAG": (
        ("自封袋 1000只", "箱", "48.00"),
        ("铝箔茶叶袋 1000只", "箱", "120.00"),
        ("快递袋 1000只", "箱", "85.00"),
        ("气泡袋 500只", "箱", "90.00"),
        ("封箱胶带 48卷", "箱", "72.00"),
    ),
    "EQUIP-COFFEE": (
        ("全自动咖啡机", "台", "8800.00"),
        ("半自动意式咖啡机", "台", "12800.00"),
        ("商用磨豆机", "台", "2600.00"),
        ("奶泡机", "台", "680.00"),
        ("商用美式滴滤机", "台", "3200.00"),
    ),
    "EQUIP-TEA": (
        ("全自动泡茶机", "台", "1980.00"),
        ("商用电热水壶", "台", "460.00"),
        ("功夫茶具套装", "套", "680.00"),
        ("步进式开水器 30L", "台", "2380.00"),
    ),
    "EQUIP-PARTS": (
        ("咖啡机滤芯", "个", "120.00"),
        ("咖啡机除垢剂 12瓶", "箱", "180.00"),
        ("手冲滤纸 100张", "包", "25.00"),
        ("不锈钢压粉锤", "个", "158.00"),
        ("设备清洁刷套装", "套", "45.00"),
    ),
}

# Variants per subcategory: (name suffix, unit or "" to keep, price factor).
VARIANTS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "TEA-GREEN": (("250g 盒装", "", "1"), ("散装", "kg", "3.4")),
    "TEA-OOLONG": (("250g 盒装", "", "1"), ("散装", "kg", "3.3")),
    "TEA-PUER": (("", "", "1"), ("整提 7饼", "提", "6.5")),
    "TEA-BLACK": (("250g 盒装", "", "1"), ("散装", "kg", "3.5")),
    "TEA-BAG": (("", "", "1"), ("整箱 20盒", "箱", "19")),
    "TEA-GIFT": (("", "", "1"), ("企业定制款", "", "1.2")),
    "COFFEE-BEAN": (("1kg", "", "1"), ("5kg 商用装", "", "4.6")),
    "COFFEE-INSTANT": (("", "", "1"), ("整箱 12盒", "箱", "11.5")),
    "SNACK-NUT": (("", "", "1"), ("整箱 10件", "箱", "9.5")),
    "SNACK-BISCUIT": (("", "", "1"), ("整箱 12件", "箱", "11.4")),
    "SNACK-DRIED": (("", "", "1"), ("整箱 20袋", "箱", "18.8")),
}

# Export products priced in US dollars, for the few accounts that buy in USD.
EXPORT_PRODUCTS: tuple[tuple[str, str, str, str], ...] = (
    ("TEA-GREEN", "西湖龙井 出口装 Longjing export", "箱", "420.00"),
    ("TEA-BLACK", "祁门红茶 出口装 Keemun export", "箱", "260.00"),
    ("TEA-PUER", "普洱熟茶饼 出口装 Pu'er export", "箱", "310.00"),
    ("TEA-BAG", "茉莉花茶袋泡 出口装 Jasmine tea bags", "箱", "95.00"),
    ("COFFEE-BEAN", "云南小粒咖啡豆 出口装 Yunnan beans", "箱", "380.00"),
    ("SNACK-NUT", "每日坚果 出口装 Daily nuts", "箱", "140.00"),
    ("PACK-CUP", "12oz 纸杯 出口装 Paper cups", "箱", "28.00"),
    ("PACK-TAKEAWAY", "牛皮纸餐盒 出口装 Kraft boxes", "箱", "36.00"),
)

# name character, pinyin
SURNAMES: tuple[tuple[str, str], ...] = (
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("高", "gao"),
    ("林", "lin"),
    ("罗", "luo"),
    ("郑", "zheng"),
    ("梁", "liang"),
    ("谢", "xie"),
    ("宋", "song"),
    ("唐", "tang"),
    ("许", "xu"),
    ("韩", "han"),
    ("冯", "feng"),
    ("邓", "deng"),
    ("曹", "cao"),
    ("彭", "peng"),
    ("曾", "zeng"),
    ("肖", "xiao"),
    ("田", "tian"),
    ("董", "dong"),
    ("袁", "yuan"),
    ("潘", "pan"),
    ("于", "yu"),
    ("蒋", "jiang"),
    ("蔡", "cai"),
    ("余", "yu"),
    ("杜", "du"),
    ("叶", "ye"),
    ("程", "cheng"),
    ("苏", "su"),
    ("魏", "wei"),
    ("吕", "lv"),
    ("丁", "ding"),
    ("任", "ren"),
    ("沈", "shen"),
    ("欧阳", "ouyang"),
    ("司马", "sima"),
)
GIVEN: tuple[tuple[str, str], ...] = (
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("娟", "juan"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀", "xiu"),
    ("霞", "xia"),
    ("平", "ping"),
    ("刚", "gang"),
    ("桂", "gui"),
    ("英", "ying"),
    ("华", "hua"),
    ("文", "wen"),
    ("辉", "hui"),
    ("建", "jian"),
    ("国", "guo"),
    ("鹏", "peng"),
    ("飞", "fei"),
    ("宇", "yu"),
    ("婷", "ting"),
    ("雪", "xue"),
    ("琳", "lin"),
    ("晨", "chen"),
    ("浩", "hao"),
    ("欣", "xin"),
    ("佳", "jia"),
    ("怡", "yi"),
    ("子", "zi"),
    ("涵", "han"),
    ("俊", "jun"),
    ("博", "bo"),
    ("思", "si"),
    ("睿", "rui"),
    ("慧", "hui"),
    ("倩", "qian"),
    ("颖", "ying"),
    ("海", "hai"),
    ("春", "chun"),
    ("志", "zhi"),
    ("红", "hong"),
    ("玲", "ling"),
    ("斌", "bin"),
    ("琴", "qin"),
    ("云", "yun"),
    ("峰", "feng"),
    ("凯", "kai"),
)
BRAND: tuple[tuple[str, str], ...] = (
    ("鑫", "xin"),
    ("源", "yuan"),
    ("华", "hua"),
    ("美", "mei"),
    ("盛", "sheng"),
    ("达", "da"),
    ("恒", "heng"),
    ("通", "tong"),
    ("瑞", "rui"),
    ("丰", "feng"),
    ("泰", "tai"),
    ("隆", "long"),
    ("宏", "hong"),
    ("嘉", "jia"),
    ("博", "bo"),
    ("金", "jin"),
    ("利", "li"),
    ("信", "xin"),
    ("德", "de"),
    ("永", "yong"),
    ("兴", "xing"),
    ("安", "an"),
    ("和", "he"),
    ("新", "xin"),
    ("天", "tian"),
    ("海", "hai"),
    ("晨", "chen"),
    ("东", "dong"),
    ("明", "ming"),
    ("佳", "jia"),
    ("百", "bai"),
    ("汇", "hui"),
    ("聚", "ju"),
    ("诚", "cheng"),
    ("益", "yi"),
    ("润", "run"),
    ("康", "kang"),
    ("福", "fu"),
    ("荣", "rong"),
    ("创", "chuang"),
    ("远", "yuan"),
    ("卓", "zhuo"),
    ("优", "you"),
    ("品", "pin"),
    ("正", "zheng"),
    ("元", "yuan"),
)
COMPANY_FORMS: tuple[tuple[str, float], ...] = (("有限公司", 8), ("股份有限公司", 1), ("有限责任公司", 1))
ROADS: tuple[str, ...] = (
    "中山路",
    "人民路",
    "解放路",
    "建设路",
    "和平路",
    "长江路",
    "新华路",
    "黄河路",
    "科技路",
    "工业大道",
    "滨江大道",
    "文化路",
    "胜利路",
    "青年路",
    "东风路",
    "迎宾大道",
    "花园路",
    "商业街",
)
PERSONAL_MAIL: tuple[str, ...] = ("qq.com", "163.com", "126.com", "sina.com", "foxmail.com")

# role, titles
CONTACT_TITLES: dict[str, tuple[str, ...]] = {
    "decider": ("总经理", "董事长", "老板", "副总经理"),
    "influencer": ("技术总监", "店长", "行政总监", "厨师长", "运营总监"),
    "buyer": ("采购经理", "采购专员", "采购主管"),
    "finance": ("财务经理", "会计", "出纳"),
    "user": ("门店经理", "仓库主管", "吧台主管", "行政专员"),
    "other": ("助理", "前台"),
}

TAGS: tuple[str, ...] = (
    "VIP",
    "连锁",
    "展会客户",
    "价格敏感",
    "年度合同",
    "新开业",
    "线上渠道",
    "重点培育",
    "节日礼品",
    "出口",
)

VALUE_POSITIONING = ("price", "quality", "service")
PURCHASING_STANDARDS: tuple[str, ...] = (
    "需提供质检报告，供应商须持食品经营许可证",
    "年度招标，至少三家比价",
    "优先本地供应商，要求30天账期",
    "只采购有机认证产品",
    "要求48小时内送达，缺货需提前通知",
    "按月对账，增值税专用发票",
    "新品须先试用两周再批量采购",
    "包装须可降解，符合环保要求",
)

RETURN_REASONS: tuple[str, ...] = (
    "包装破损",
    "质量问题",
    "发错货",
    "临近保质期",
    "客户多订",
    "规格不符",
)

CALL_SUBJECTS: tuple[str, ...] = (
    "电话回访，了解近期用货情况",
    "确认下月采购计划",
    "沟通新品试用反馈",
    "节前备货提醒",
    "了解竞品报价",
    "客户咨询批量采购价格",
    "确认送货时间",
)
MEETING_SUBJECTS: tuple[str, ...] = (
    "上门拜访，介绍新品",
    "年度合作洽谈",
    "与采购经理面谈价格方案",
    "陪同客户品鉴新茶",
    "季度业务回顾会",
)
NOTE_SUBJECTS: tuple[str, ...] = (
    "客户对价格敏感，倾向满减活动",
    "老板偏好普洱，节前可送礼盒",
    "采购需总部审批，周期约一个月",
    "对交期要求高，需提前备货",
    "新店下月开业，预计增加采购",
    "客户反馈包装破损，已安排补发",
    "财务付款流程较慢，注意提前对账",
)
EMAIL_SUBJECTS: tuple[str, ...] = (
    "发送新品目录和价目表",
    "发送年度返点政策说明",
    "发送月度对账单",
    "发送节日促销方案",
)
ACCOUNT_NOTES: tuple[str, ...] = (
    "老板喜欢喝普洱，节前拜访带礼盒",
    "每月初集中下单，月底对账",
    "决策人是总经理，采购经理负责比价",
    "去年曾因交期问题投诉，需重点维护",
    "有意向签年度合同，关注返点政策",
    "门店扩张中，今年预计新增两家店",
)
CHASE_SUBJECT = "催收：发票逾期未付"

# Lunar New Year (春节) by year; outside this table the generator assumes 1 February.
SPRING_FESTIVAL: dict[int, tuple[int, int]] = {
    2015: (2, 19),
    2016: (2, 8),
    2017: (1, 28),
    2018: (2, 16),
    2019: (2, 5),
    2020: (1, 25),
    2021: (2, 12),
    2022: (2, 1),
    2023: (1, 22),
    2024: (2, 10),
    2025: (1, 29),
    2026: (2, 17),
    2027: (2, 6),
    2028: (1, 26),
    2029: (2, 13),
    2030: (2, 3),
    2031: (1, 23),
    2032: (2, 11),
    2033: (1, 31),
    2034: (2, 19),
    2035: (2, 8),
}
# Mid-Autumn Festival (中秋), when gift boxes sell; outside the table, 20 September.
MID_AUTUMN: dict[int, tuple[int, int]] = {
    2019: (9, 13),
    2020: (10, 1),
    2021: (9, 21),
    2022: (9, 10),
    2023: (9, 29),
    2024: (9, 17),
    2025: (10, 6),
    2026: (9, 25),
    2027: (9, 15),
    2028: (10, 3),
    2029: (9, 22),
    2030: (9, 12),
}
