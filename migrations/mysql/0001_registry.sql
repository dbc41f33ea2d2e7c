-- slog metadata registry: initial schema and preset rows (MySQL / MariaDB).
--
-- sqlx migration 0001. Follows the design spec (seed) §3.2 "元数据管理系统设计"
-- (the four tables events / event_properties / user_identity_properties /
-- profile_properties; the seed's column typo `poject` is spelled `project` here)
-- and §3.3 "预置event与属性字段" (preset events and properties). The preset
-- event_properties are the union of the §3.3.2 web / mobile app / mini-program
-- tables and the §4 pageview table, minus its business-defined fields
-- (course_name, course_type, course_difficulty, money are NOT preset).
--
-- Names (events.id, *.key) are unique regardless of case (utf8mb4_unicode_ci): `PageView` cannot be
-- registered beside `pageview`. The router's lookups are exact.
--
-- value_type: 0 string, 1 datetime, 2 bool, 3 int, 4 double.
-- Preset rows: is_reserve = 1, proposer = 'system', create_time = 1556409600
-- (2019-04-28 00:00:00 UTC).
--
-- registry_version is a single-row counter (id = 1). Every admin write bumps
-- `version`, so running router instances can notice registry changes.

CREATE TABLE events (
    id          varchar(64)  NOT NULL,
    name        varchar(128) NOT NULL,
    project     varchar(64)  NULL DEFAULT NULL,
    is_reserve  tinyint(1)   NOT NULL DEFAULT 0,
    need_uuid   tinyint(1)   NOT NULL DEFAULT 1,
    proposer    varchar(64)  NOT NULL,
    create_time int(10)      NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT chk_events_is_reserve CHECK (is_reserve IN (0,1)),
    CONSTRAINT chk_events_need_uuid CHECK (need_uuid IN (0,1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE INDEX idx_events_project ON events (project);
CREATE INDEX idx_events_create_time ON events (create_time);

CREATE TABLE event_properties (
    `key`       varchar(64)  NOT NULL,
    name        varchar(128) NOT NULL,
    value_type  int(10)      NOT NULL,
    is_reserve  tinyint(1)   NOT NULL DEFAULT 0,
    proposer    varchar(64)  NOT NULL,
    create_time int(10)      NOT NULL,
    PRIMARY KEY (`key`),
    CONSTRAINT chk_event_properties_value_type CHECK (value_type BETWEEN 0 AND 4),
    CONSTRAINT chk_event_properties_is_reserve CHECK (is_reserve IN (0,1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE INDEX idx_event_properties_create_time ON event_properties (create_time);

CREATE TABLE user_identity_properties (
    `key`       varchar(64)  NOT NULL,
    name        varchar(128) NOT NULL,
    value_type  int(10)      NOT NULL,
    is_reserve  tinyint(1)   NOT NULL DEFAULT 0,
    proposer    varchar(64)  NOT NULL,
    create_time int(10)      NOT NULL,
    PRIMARY KEY (`key`),
    CONSTRAINT chk_user_identity_properties_value_type CHECK (value_type BETWEEN 0 AND 4),
    CONSTRAINT chk_user_identity_properties_is_reserve CHECK (is_reserve IN (0,1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE INDEX idx_user_identity_properties_create_time ON user_identity_properties (create_time);

CREATE TABLE profile_properties (
    `key`       varchar(64)  NOT NULL,
    name        varchar(128) NOT NULL,
    value_type  int(10)      NOT NULL,
    is_reserve  tinyint(1)   NOT NULL DEFAULT 0,
    proposer    varchar(64)  NOT NULL,
    create_time int(10)      NOT NULL,
    PRIMARY KEY (`key`),
    CONSTRAINT chk_profile_properties_value_type CHECK (value_type BETWEEN 0 AND 4),
    CONSTRAINT chk_profile_properties_is_reserve CHECK (is_reserve IN (0,1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE INDEX idx_profile_properties_create_time ON profile_properties (create_time);

CREATE TABLE registry_version (
    id      INT    NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT chk_registry_version_id CHECK (id = 1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO registry_version (id, version) VALUES (1, 1);

-- §3.3.1 preset events (common to every project: project IS NULL).
INSERT INTO events (id, name, project, is_reserve, need_uuid, proposer, create_time) VALUES
    ('AppClick', 'App元素点击', NULL, 1, 1, 'system', 1556409600),
    ('AppViewScreen', 'App 浏览页面', NULL, 1, 1, 'system', 1556409600),
    ('AppStart', '启动 App', NULL, 1, 1, 'system', 1556409600),
    ('AppEnd', '退出App', NULL, 1, 1, 'system', 1556409600),
    ('WebClick', 'Web 元素点击', NULL, 1, 1, 'system', 1556409600),
    ('pageview', 'Web 浏览页面', NULL, 1, 1, 'system', 1556409600),
    ('WebStay', 'Web 视区停留', NULL, 1, 1, 'system', 1556409600);

-- §3.3.2 web / app / mini-program preset fields + §4 pageview fields (business fields excluded).
INSERT INTO event_properties (`key`, name, value_type, is_reserve, proposer, create_time) VALUES
    ('ct', '客户端类型', 3, 1, 'system', 1556409600),
    ('lib', 'SDK类型，如python,js等', 0, 1, 'system', 1556409600),
    ('lib_version', 'SDK版本', 0, 1, 'system', 1556409600),
    ('referrer', '前向地址', 0, 1, 'system', 1556409600),
    ('referrer_host', '前向域名', 0, 1, 'system', 1556409600),
    ('first_referrer', '站外前向地址，如http://www.baidu.com, 若是浏览器直接打开，则为空', 0, 1, 'system', 1556409600),
    ('app_version', '应用的版本', 0, 1, 'system', 1556409600),
    ('manufacturer', '设备制造商，如Huawei', 0, 1, 'system', 1556409600),
    ('model', '设备型号, 如Mate20', 0, 1, 'system', 1556409600),
    ('screen_height', '屏幕高度', 3, 1, 'system', 1556409600),
    ('screen_width', '屏幕宽度', 3, 1, 'system', 1556409600),
    ('os', '操作系统', 0, 1, 'system', 1556409600),
    ('os_version', '操作系统版本号', 0, 1, 'system', 1556409600),
    ('wifi', '是否使用wifi', 2, 1, 'system', 1556409600),
    ('resume_from_background', '是否从后台唤醒', 2, 1, 'system', 1556409600),
    ('carrier', '运营商名称，如ChinaNet', 0, 1, 'system', 1556409600),
    ('network_type', '网络类型，如4G', 0, 1, 'system', 1556409600),
    ('country', '国家', 0, 1, 'system', 1556409600),
    ('province', '省份', 0, 1, 'system', 1556409600),
    ('city', '城市', 0, 1, 'system', 1556409600),
    ('ip', '客户端ip地址', 0, 1, 'system', 1556409600),
    ('browser', '浏览器', 0, 1, 'system', 1556409600),
    ('browser_version', '浏览器版本号', 0, 1, 'system', 1556409600),
    ('url', '页面地址', 0, 1, 'system', 1556409600),
    ('title', '页面标题', 0, 1, 'system', 1556409600),
    ('url_path', '页面路径', 0, 1, 'system', 1556409600);

-- §3.3.3 user identity (不变量标识) preset properties; all strings.
INSERT INTO user_identity_properties (`key`, name, value_type, is_reserve, proposer, create_time) VALUES
    ('mobile', '手机号', 0, 1, 'system', 1556409600),
    ('imei', 'android标识', 0, 1, 'system', 1556409600),
    ('androidUUID', 'android标识', 0, 1, 'system', 1556409600),
    ('macAddress', 'mac地址', 0, 1, 'system', 1556409600),
    ('idfa', 'ios标识', 0, 1, 'system', 1556409600),
    ('iosUUID', 'ios标识', 0, 1, 'system', 1556409600),
    ('wx-id', '微信标识', 0, 1, 'system', 1556409600),
    ('openid', '小程序公众号标识', 0, 1, 'system', 1556409600),
    ('appid', '小程序公众号标识', 0, 1, 'system', 1556409600),
    ('unionid', '公众平台用户标识', 0, 1, 'system', 1556409600),
    ('userid', '后端账户id', 0, 1, 'system', 1556409600),
    ('deviceUUID', '用户中心生成的关联设备信息的随机数', 0, 1, 'system', 1556409600),
    ('opptunityId', '机会id', 0, 1, 'system', 1556409600),
    ('uvId', '项目框架页长效cookie', 0, 1, 'system', 1556409600),
    ('chatId', '大熊会话id', 0, 1, 'system', 1556409600),
    ('browserId', '使用多种算法生成的浏览器唯一标识', 0, 1, 'system', 1556409600),
    ('qq', '天网名片信息', 0, 1, 'system', 1556409600),
    ('idCard', '身份证', 0, 1, 'system', 1556409600),
    ('email263', '公司工作人员标识', 0, 1, 'system', 1556409600),
    ('orderDetailId', '子订单号', 0, 1, 'system', 1556409600),
    ('clickId', '广告系统id', 0, 1, 'system', 1556409600);

-- §3.3.4 profile preset fields.
INSERT INTO profile_properties (`key`, name, value_type, is_reserve, proposer, create_time) VALUES
    ('city', '用户所在城市', 0, 1, 'system', 1556409600),
    ('province', '用户所在省份', 0, 1, 'system', 1556409600),
    ('country', '用户所在国家', 0, 1, 'system', 1556409600),
    ('name', '姓名', 0, 1, 'system', 1556409600),
    ('sex', '性别', 3, 1, 'system', 1556409600),
    ('first_visit_time', '首次访问时间', 1, 1, 'system', 1556409600),
    ('first_referrer', '首次站外前向地址', 0, 1, 'system', 1556409600),
    ('first_referrer_host', '首次站外前向域名', 0, 1, 'system', 1556409600),
    ('signup_time', '注册时间', 0, 1, 'system', 1556409600);
