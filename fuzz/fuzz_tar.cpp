// WebDataset shards: the tar index (ustar, GNU long names, pax paths, base-256 sizes), reading
// every member back, and the grouping of members into samples with captions and class indices.
#include "fuzz_input.h"
#include "selfsup/data/stream.h"
#include "selfsup/io/tar.h"

using namespace selfsup;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = fuzz::write_file("shard.tar", fuzz::as_text(data, size));
  fuzz::parses([&] {
    for (const auto& m : io::index_tar(path))
      if (io::read_tar_member(path, m).size() != m.size) fuzz::finding("member read back with another size");
  });
  for (const bool skip : {false, true}) {
    fuzz::parses([&] {
      data::ListOptions o;
      o.need_captions = true;
      o.skip_bad = skip;
      const auto list = data::list_webdataset(path, o);
      if (list.labels.size() != list.source.samples.size() || list.source.captions.size() != list.source.samples.size())
        fuzz::finding("labels or captions do not match the samples");
    });
  }
  return 0;
}
