-- An environment's network (linked subnets and the public switch) as its
-- admins set it through the management API, as JSON; when set, it is used
-- instead of the settings file's. Private roots stay the settings file's.
ALTER TABLE environments ADD COLUMN network TEXT;
