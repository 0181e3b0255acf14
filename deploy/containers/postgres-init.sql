-- Each service owns its database (intake is made by POSTGRES_DB).
CREATE DATABASE consent OWNER hybrid;
CREATE DATABASE registry OWNER hybrid;
CREATE DATABASE notify OWNER hybrid;
-- The sessions the identity provider ended (back-channel logout), read by every web service.
CREATE DATABASE sessions OWNER hybrid;
