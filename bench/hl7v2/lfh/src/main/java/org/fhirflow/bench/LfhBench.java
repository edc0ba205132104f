package org.fhirflow.bench;

import io.github.linuxforhealth.hl7.HL7ToFHIRConverter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Converts every message of an HL7 v2 file with the LinuxForHealth converter, one call per
 * message as its API takes them, and prints one JSON line: messages, converted, failed, seconds
 * (after the warm-up), and the resource types emitted with their counts.
 *
 * Usage: java -jar lfh-bench.jar FILE [WARMUP_MESSAGES [MAX_MESSAGES]]: the timed messages are the
 * first MAX_MESSAGES of the file (all by default).
 */
public final class LfhBench {
    private static final Pattern TYPE = Pattern.compile("\"resourceType\"\\s*:\\s*\"([A-Za-z]+)\"");

    public static void main(String[] args) throws Exception {
        String text = new String(Files.readAllBytes(Path.of(args[0])), StandardCharsets.UTF_8);
        int warmup = args.length > 1 ? Integer.parseInt(args[1]) : 500;
        List<String> messages = new ArrayList<>();
        StringBuilder cur = null;
        for (String seg : text.split("\r\n|\r|\n")) {
            if (seg.isBlank()) continue;
            String tag = seg.length() >= 3 ? seg.substring(0, 3) : seg;
            if (tag.equals("MSH")) {
                if (cur != null) messages.add(cur.toString());
                cur = new StringBuilder(seg).append('\r');
            } else if (tag.equals("FHS") || tag.equals("BHS") || tag.equals("BTS") || tag.equals("FTS")) {
                if (cur != null) messages.add(cur.toString());
                cur = null;
            } else if (cur != null) {
                cur.append(seg).append('\r');
            }
        }
        if (cur != null) messages.add(cur.toString());
        if (args.length > 2 && Integer.parseInt(args[2]) < messages.size()) {
            messages = new ArrayList<>(messages.subList(0, Integer.parseInt(args[2])));
        }
        HL7ToFHIRConverter converter = new HL7ToFHIRConverter();
        for (int i = 0; i < Math.min(warmup, messages.size()); i++) {
            try { converter.convert(messages.get(i)); } catch (Exception e) { /* counted below */ }
        }
        TreeMap<String, Integer> types = new TreeMap<>();
        int ok = 0, failed = 0;
        long start = System.nanoTime();
        for (String m : messages) {
            try {
                String bundle = converter.convert(m);
                ok++;
                Matcher mt = TYPE.matcher(bundle);
                while (mt.find()) types.merge(mt.group(1), 1, Integer::sum);
            } catch (Exception e) {
                failed++;
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        StringBuilder out = new StringBuilder("{\"messages\":").append(messages.size())
            .append(",\"converted\":").append(ok).append(",\"failed\":").append(failed)
            .append(",\"seconds\":").append(seconds).append(",\"types\":{");
        boolean first = true;
        for (var e : types.entrySet()) {
            if (!first) out.append(',');
            first = false;
            out.append('"').append(e.getKey()).append("\":").append(e.getValue());
        }
        System.out.println(out.append("}}"));
    }
}
