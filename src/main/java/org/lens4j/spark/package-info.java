/**
 * lens4j on Spark: {@link org.lens4j.spark.LensSpark} maps a Dataset of prompt rows to result
 * rows with one lens4j worker per executor JVM. Spark is an optional, provided dependency:
 * add {@code org.apache.spark:spark-sql_2.13} (4.2.0 or newer on JDK 25) to use this package.
 */
package org.lens4j.spark;
