// test/jdbc/Browse.java - what a BI tool does when it opens a database over
// JDBC: reads the metadata of every table and view (getTables, getColumns),
// then runs "SELECT * FROM t WHERE 1=0" and "SELECT * FROM t LIMIT 0" on
// each.  Prints one line per relation and per error; exits 1 when any
// statement failed.
//
//   java -cp /usr/share/java/postgresql.jar test/jdbc/Browse.java URL USER
//
// (the JDK's source launcher: no build step).
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

public class Browse {
    static final String[] TYPES = {"TABLE", "VIEW", "FOREIGN TABLE", "MATERIALIZED VIEW", "PARTITIONED TABLE"};

    static String pattern(String name, String esc) {
        return name.replace(esc, esc + esc).replace("_", esc + "_").replace("%", esc + "%");
    }

    static String quote(String id) {
        return "\"" + id.replace("\"", "\"\"") + "\"";
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: Browse URL USER");
            System.exit(2);
        }
        int errors = 0;
        int relations = 0;
        try (Connection c = DriverManager.getConnection(args[0], args[1], "")) {
            DatabaseMetaData md = c.getMetaData();
            List<String[]> rels = new ArrayList<>();
            try (ResultSet rs = md.getTables(null, null, "%", TYPES)) {
                while (rs.next())
                    rels.add(new String[] {rs.getString("TABLE_SCHEM"), rs.getString("TABLE_NAME"), rs.getString("TABLE_TYPE")});
            }
            String esc = md.getSearchStringEscape();
            for (String[] r : rels) {
                int cols = 0;
                // names are patterns there: "_" must match itself only
                try (ResultSet rs = md.getColumns(null, pattern(r[0], esc), pattern(r[1], esc), "%")) {
                    while (rs.next())
                        cols++;
                }
                relations++;
                System.out.println("relation " + r[2] + " " + r[0] + "." + r[1] + " columns " + cols);
                String name = quote(r[0]) + "." + quote(r[1]);
                for (String sql : new String[] {"SELECT * FROM " + name + " WHERE 1=0", "SELECT * FROM " + name + " LIMIT 0"}) {
                    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
                        int n = rs.getMetaData().getColumnCount();
                        if (rs.next()) {
                            errors++;
                            System.out.println("error " + sql + ": returned a row");
                        }
                        if (n != cols) {
                            errors++;
                            System.out.println("error " + sql + ": " + n + " columns, metadata said " + cols);
                        }
                    } catch (SQLException e) {
                        errors++;
                        System.out.println("error " + sql + ": " + e.getSQLState() + " " + e.getMessage().replace('\n', ' '));
                    }
                }
            }
        }
        System.out.println("relations " + relations + " errors " + errors);
        System.exit(errors == 0 ? 0 : 1);
    }
}
