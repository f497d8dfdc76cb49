// The key store: persistence across reopening, atomic files, the cache bound, the key limit,
// damaged and foreign files.
#include <gtest/gtest.h>

#include "server_test_util.h"
#include "torusml/deploy/server/key_store.h"

namespace torusml::deploy::server::testing {
namespace {

const Client& client_a() {
  static const Client c = make_client(tiny_model(), 30);
  return c;
}
const Client& client_b() {
  static const Client c = make_client(tiny_model(), 40);
  return c;
}

TEST(KeyStore, PersistsAcrossReopeningAndRemovesTemporaryFiles) {
  TempDir dir;
  std::string id;
  {
    KeyStore store(dir.path(), tiny_model().parameters(), {});
    const StoredKey s = store.put(client_a().evaluation_keys);
    EXPECT_TRUE(s.created);
    id = s.key_id;
    EXPECT_TRUE(is_key_id(id));
    EXPECT_FALSE(store.put(client_a().evaluation_keys).created);
  }
  EXPECT_EQ(read_file_bytes(dir / (id + ".keys")), client_a().evaluation_keys);
  std::ofstream(dir / (id + ".keys.123.0.tmp")) << "half written";
  std::ofstream(dir / "notes.txt") << "not a key";
  KeyStore reopened(dir.path(), tiny_model().parameters(), {});
  EXPECT_EQ(reopened.size(), 1u);
  EXPECT_TRUE(reopened.contains(id));
  EXPECT_FALSE(fs::exists(dir / (id + ".keys.123.0.tmp")));
  const auto keys = reopened.get(id);
  ASSERT_TRUE(keys->server_key.has_value());
  EXPECT_EQ(keys->parameters, tiny_model().parameters());
}

TEST(KeyStore, CacheHoldsAtMostItsCapacity) {
  TempDir dir;
  KeyStoreLimits limits;
  limits.cache_capacity = 1;
  KeyStore store(dir.path(), tiny_model().parameters(), limits);
  const std::string a = store.put(client_a().evaluation_keys).key_id;
  const std::string b = store.put(client_b().evaluation_keys).key_id;
  EXPECT_EQ(store.cached(), 0u);
  const auto ka = store.get(a);
  EXPECT_EQ(store.get(a), ka);  // cached: the same object
  const auto kb = store.get(b);
  EXPECT_EQ(store.cached(), 1u);
  EXPECT_NE(store.get(a), ka);  // a was evicted, loaded again
  EXPECT_EQ(store.cached(), 1u);
}

TEST(KeyStore, LimitDamagedAndForeignFiles) {
  TempDir dir;
  KeyStoreLimits limits;
  limits.max_keys = 1;
  const Client other = make_client(other_model(), 50);
  {
    KeyStore store(dir.path(), tiny_model().parameters(), limits);
    const std::string a = store.put(client_a().evaluation_keys).key_id;
    EXPECT_THROW(store.put(client_b().evaluation_keys), KeyStoreFull);
    EXPECT_THROW(store.put(other.evaluation_keys), ParameterMismatch);
    EXPECT_THROW(store.get(std::string(64, 'f')), UnknownKeyId);
    EXPECT_THROW(store.get("../secret"), UnknownKeyId);
    // A file damaged on disk is detected, removed, and must be uploaded again.
    Bytes damaged = client_a().evaluation_keys;
    damaged[damaged.size() / 2] ^= 1;
    write_file_bytes(dir / (a + ".keys"), damaged);
    EXPECT_THROW(store.get(a), UnknownKeyId);
    EXPECT_FALSE(store.contains(a));
    EXPECT_FALSE(fs::exists(dir / (a + ".keys")));
    EXPECT_TRUE(store.put(client_b().evaluation_keys).created);
  }
  // Keys of another model left in the directory are ignored.
  write_file_bytes(dir / (key_id_of(other.evaluation_keys) + ".keys"), other.evaluation_keys);
  KeyStore reopened(dir.path(), tiny_model().parameters(), limits);
  EXPECT_EQ(reopened.size(), 1u);
  EXPECT_EQ(reopened.skipped_files(), 1u);
  EXPECT_THROW(KeyStore(dir.path(), tiny_model().parameters(), KeyStoreLimits{1, 0}),
               InvalidArgument);
}

}  // namespace
}  // namespace torusml::deploy::server::testing
